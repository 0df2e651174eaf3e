#!/usr/bin/env node
'use strict';
/**
 * One Chat call, then the same question as a StreamChat, printed as it arrives.
 *
 *   VG_ADDRESS=localhost:50051 node examples/chat.js "Why is the sky blue?"
 *
 * VG_API_KEY, when set, is sent as `x-api-key` (gateways with caller keys need it);
 * VG_MODEL picks the model (default gemini-2.5-flash).
 */

const { connect, GatewayError } = require('..');

function text(message) {
  return (message?.parts ?? [])
    .filter((part) => part.kind === 'text')
    .map((part) => part.text)
    .join('');
}

async function main() {
  const address = process.env.VG_ADDRESS ?? 'localhost:50051';
  const apiKey = process.env.VG_API_KEY;
  const gw = connect(address, {
    deadlineMs: 30_000, // every call gets a deadline; the gateway passes it on to Vertex
    metadata: apiKey ? { 'x-api-key': apiKey } : {},
  });
  const request = {
    model: process.env.VG_MODEL ?? 'gemini-2.5-flash',
    messages: [{ role: 'ROLE_USER', parts: [{ text: process.argv[2] ?? 'Why is the sky blue?' }] }],
    generationConfig: { maxOutputTokens: 256 },
  };
  try {
    const reply = await gw.chat.chat(request);
    const [candidate] = reply.candidates;
    console.log(`Chat (${reply.model}, ${candidate.finishReason}):`);
    console.log(text(candidate.message));
    console.log(`tokens: ${reply.usage.inputTokens} in, ${reply.usage.outputTokens} out\n`);

    process.stdout.write('StreamChat: ');
    for await (const chunk of gw.chat.streamChat(request)) {
      const [delta] = chunk.candidates;
      process.stdout.write(text(delta?.message));
      if (chunk.usage) {
        console.log(`\n(${delta?.finishReason}, ${chunk.usage.totalTokens} tokens)`);
      }
    }
  } catch (err) {
    if (!(err instanceof GatewayError)) {
      throw err;
    }
    // The reason is the stable key; the details say what to change.
    console.error(`${err.codeName} ${err.reason}: ${err.details}`);
    for (const v of err.badRequest?.fieldViolations ?? []) {
      console.error(`  ${v.field}: ${v.description}`);
    }
    if (err.retryInfo) {
      console.error(`  retry after ${err.retryInfo.retryDelayMs} ms`);
    }
    process.exitCode = 1;
  } finally {
    gw.close();
  }
}

main();
