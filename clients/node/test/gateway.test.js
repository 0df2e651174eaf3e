'use strict';
/**
 * The client against a running gateway.
 *
 *   VG_ADDRESS       host:port of the gateway (without it these tests are skipped)
 *   VG_API_KEY       a caller key the gateway accepts, when it has caller keys
 *   VG_EMULATOR_URL  the Vertex emulator behind it, for the tests that inject upstream faults;
 *                    they expect the gateway not to retry upstream (VG_MAX_ATTEMPTS=1), so
 *                    what the client sees is what Vertex answered
 *
 * The tests of this file run one after another; each fault is armed for a model no other test
 * calls, so an armed fault cannot reach another test.
 */

const test = require('node:test');
const assert = require('node:assert/strict');
const { connect, GatewayError, grpc } = require('..');

const ADDRESS = process.env.VG_ADDRESS;
const API_KEY = process.env.VG_API_KEY;
const EMULATOR = process.env.VG_EMULATOR_URL;
const needsGateway = ADDRESS ? {} : { skip: 'set VG_ADDRESS=host:port of a running gateway' };
const needsKey = ADDRESS && API_KEY ? {} : { skip: 'set VG_ADDRESS and VG_API_KEY' };
const needsEmulator =
  ADDRESS && EMULATOR ? {} : { skip: 'set VG_ADDRESS and VG_EMULATOR_URL (emulator-backed)' };

const AUTH = API_KEY ? { 'x-api-key': API_KEY } : {};

/** @type {import('..').GatewayClient} */
let gw;
test.before(() => {
  if (ADDRESS) {
    gw = connect(ADDRESS, { deadlineMs: 20_000, metadata: AUTH });
  }
});
test.after(() => gw?.close());

function ask(text, model = 'gemini-2.5-flash') {
  return { model, messages: [{ role: 'ROLE_USER', parts: [{ text }] }] };
}

function textOf(message) {
  return (message?.parts ?? [])
    .filter((p) => p.kind === 'text')
    .map((p) => p.text)
    .join('');
}

/** The GatewayError a call rejects (or a stream throws) with. */
async function failure(promiseOrIterable) {
  try {
    if (typeof promiseOrIterable[Symbol.asyncIterator] === 'function') {
      for await (const _ of promiseOrIterable) {
        // drain: the error comes at the end
      }
    } else {
      await promiseOrIterable;
    }
  } catch (err) {
    assert.ok(err instanceof GatewayError, `not a GatewayError: ${err}`);
    return err;
  }
  assert.fail('the call succeeded');
}

async function emulator(method, path, body) {
  const response = await fetch(`${EMULATOR}/_emulator/${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(response.ok, `emulator ${method} ${path}: ${response.status}`);
  return response.json();
}

/** Arms `fault` for the next `times` upstream calls of one model's method. */
function armFault(fault, times, model, method) {
  const pathContains = `/models/${model}:${method}`;
  return emulator('POST', 'faults', { fault, times, path_contains: pathContains });
}

async function upstreamCalls(model, method) {
  const requests = await emulator('GET', 'requests');
  return requests.filter((r) => r.path.endsWith(`/models/${model}:${method}`)).length;
}

test('Chat returns a complete reply with usage', needsGateway, async () => {
  const headers = [];
  const reply = await gw.chat.chat(ask('Why is the sky blue?'), {
    onHeaders: (md) => headers.push(md),
  });
  assert.equal(reply.model, 'google/gemini-2.5-flash');
  const [candidate] = reply.candidates;
  assert.equal(candidate.finishReason, 'FINISH_REASON_STOP');
  assert.equal(candidate.message.role, 'ROLE_ASSISTANT');
  assert.match(textOf(candidate.message), /sky blue/);
  assert.ok(reply.usage.outputTokens > 0);
  assert.ok(reply.usage.totalTokens >= reply.usage.inputTokens + reply.usage.outputTokens);
  assert.equal(headers.length, 1);
  assert.equal(headers[0].get('content-type')[0], 'application/grpc');
});

test(
  'StreamChat streams the same words as Chat, usage on the last message',
  needsGateway,
  async () => {
    const request = ask('Tell me about tides');
    const whole = textOf((await gw.chat.chat(request)).candidates[0].message);
    const chunks = [];
    for await (const chunk of gw.chat.streamChat(request)) {
      chunks.push(chunk);
    }
    assert.ok(chunks.length >= 3, `only ${chunks.length} messages`);
    const last = chunks.at(-1);
    assert.equal(last.candidates[0].finishReason, 'FINISH_REASON_STOP');
    assert.ok(last.usage && last.usage.outputTokens > 0);
    assert.ok(
      chunks.slice(0, -1).every((c) => c.usage === null),
      'usage before the last message',
    );
    assert.equal(chunks.map((c) => textOf(c.candidates[0]?.message)).join(''), whole);
  },
);

test('a StreamChat the caller stops reading is cancelled', needsEmulator, async () => {
  const model = 'gemini-2.5-flash-lite';
  await armFault('slow-stream:2000', 1, model, 'streamGenerateContent');
  let ended;
  const status = new Promise((resolve) => {
    ended = resolve;
  });
  const stream = gw.chat.streamChat(ask('Tell me a long story', model), {
    onTrailers: (_trailers, final) => ended(final),
  });
  for await (const chunk of stream) {
    assert.ok(chunk.candidates.length > 0);
    break; // the rest would take seconds per message
  }
  assert.equal((await status).code, grpc.status.CANCELLED);
  const again = await gw.chat.chat(ask('still there?')); // the channel stays usable
  assert.equal(again.candidates[0].finishReason, 'FINISH_REASON_STOP');
  await emulator('DELETE', 'faults');
});

test('Embed returns one vector per input', needsGateway, async () => {
  const reply = await gw.embedding.embed({
    model: 'text-embedding-005',
    inputs: [{ text: 'the cat sat' }, { text: 'quarterly revenue grew' }],
    taskType: 'EMBEDDING_TASK_TYPE_RETRIEVAL_DOCUMENT',
  });
  assert.equal(reply.embeddings.length, 2);
  const [a, b] = reply.embeddings.map((e) => e.values);
  assert.equal(a.length, 768);
  assert.equal(b.length, 768);
  assert.ok(a.every(Number.isFinite));
  assert.notDeepEqual(a, b);
  assert.ok(reply.usage.inputTokens > 0);
});

test('ListModels pages and filters by capability', needsGateway, async () => {
  const first = await gw.model.listModels({ pageSize: 5 });
  assert.equal(first.models.length, 5);
  assert.ok(first.nextPageToken);
  const second = await gw.model.listModels({ pageSize: 5, pageToken: first.nextPageToken });
  const firstIds = new Set(first.models.map((m) => m.id));
  assert.ok(second.models.length > 0 && second.models.every((m) => !firstIds.has(m.id)));

  const all = await gw.model.listModels({ pageSize: 1000 });
  const flash = all.models.find((m) => m.id === 'google/gemini-2.5-flash');
  assert.ok(flash, 'gemini-2.5-flash is listed');
  assert.equal(flash.family, 'MODEL_FAMILY_GEMINI');
  assert.ok(flash.capabilities.includes('CAPABILITY_STREAMING'));

  const embedders = await gw.model.listModels({ capabilities: ['CAPABILITY_EMBEDDINGS'] });
  assert.ok(embedders.models.some((m) => m.id === 'google/text-embedding-005'));
  assert.ok(embedders.models.every((m) => m.capabilities.includes('CAPABILITY_EMBEDDINGS')));
});

test(
  'an unknown model is NOT_FOUND with ErrorInfo, in Chat and StreamChat',
  needsGateway,
  async () => {
    for (const call of [
      gw.chat.chat(ask('hi', 'nope-1')),
      gw.chat.streamChat(ask('hi', 'nope-1')),
    ]) {
      const err = await failure(call);
      assert.equal(err.code, grpc.status.NOT_FOUND);
      assert.equal(err.codeName, 'NOT_FOUND');
      assert.equal(err.reason, 'MODEL_NOT_FOUND');
      assert.equal(err.errorInfo.domain, 'vertex-gateway');
      assert.deepEqual(err.errorInfo.metadata, { model: 'nope-1' });
      assert.match(err.details, /nope-1/);
      assert.equal(err.status.code, grpc.status.NOT_FOUND);
      assert.equal(err.badRequest, null);
    }
  },
);

test('a stream that fails before it is read still throws when read', needsGateway, async () => {
  let trailersSeen;
  const trailers = new Promise((resolve) => {
    trailersSeen = resolve;
  });
  const stream = gw.chat.streamChat(ask('hi', 'nope-1'), { onTrailers: trailersSeen });
  await trailers; // the whole call is over before the first read
  const err = await failure(stream);
  assert.equal(err.reason, 'MODEL_NOT_FOUND');
});

test(
  'empty messages are INVALID_ARGUMENT with a BadRequest field violation',
  needsGateway,
  async () => {
    const err = await failure(gw.chat.chat({ model: 'gemini-2.5-flash', messages: [] }));
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(err.reason, 'INVALID_REQUEST');
    const [violation, ...rest] = err.badRequest.fieldViolations;
    assert.equal(rest.length, 0);
    assert.equal(violation.field, 'messages');
    assert.match(violation.description, /at least one message/);
  },
);

test('an Embed without inputs names the field', needsGateway, async () => {
  const err = await failure(gw.embedding.embed({ model: 'text-embedding-005' }));
  assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
  assert.ok(err.badRequest.fieldViolations.some((v) => v.field === 'inputs'));
});

test('metadata carries the caller key, per client and per call', needsKey, async () => {
  const anonymous = connect(ADDRESS, { deadlineMs: 10_000 });
  try {
    const missing = await failure(anonymous.model.listModels({}));
    assert.equal(missing.code, grpc.status.UNAUTHENTICATED);
    assert.equal(missing.reason, 'CALLER_KEY_MISSING');
    const wrong = await failure(
      anonymous.model.listModels({}, { metadata: { 'x-api-key': 'not-it' } }),
    );
    assert.equal(wrong.reason, 'CALLER_KEY_INVALID');
    const perCall = await anonymous.model.listModels({}, { metadata: AUTH });
    assert.ok(perCall.models.length > 0);
    const bearer = await anonymous.model.listModels(
      {},
      { metadata: { authorization: `Bearer ${API_KEY}` } },
    );
    assert.ok(bearer.models.length > 0);
  } finally {
    anonymous.close();
  }
});

test('an aborted signal cancels the call', needsGateway, async () => {
  const controller = new AbortController();
  controller.abort();
  const err = await failure(gw.chat.chat(ask('hi'), { signal: controller.signal }));
  assert.equal(err.code, grpc.status.CANCELLED);
});

test('the deadline is sent with the call', needsEmulator, async () => {
  const model = 'gemini-2.0-flash-001';
  await armFault('slow:5000', 1, model, 'generateContent');
  const err = await failure(gw.chat.chat(ask('hi', model), { deadlineMs: 300 }));
  assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
  await emulator('DELETE', 'faults');
});

test('Vertex rate limiting: RetryInfo and QuotaFailure are decoded', needsEmulator, async () => {
  const model = 'gemini-2.0-flash';
  await armFault('429', 1, model, 'generateContent');
  const err = await failure(gw.chat.chat(ask('hi', model)));
  assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED);
  assert.equal(err.reason, 'UPSTREAM_RATE_LIMITED');
  assert.equal(err.errorInfo.metadata.http_status, '429');
  assert.equal(err.errorInfo.metadata.upstream_reason, 'RATE_LIMIT_EXCEEDED');
  assert.equal(err.retryInfo.retryDelayMs, 2000);
  assert.deepEqual(err.retryInfo.retryDelay, { seconds: 2, nanos: 0 });
  assert.equal(err.quotaFailure.violations.length, 1);
  assert.equal(err.quotaFailure.violations[0].subject, 'vertex-ai');
});

test('UNAVAILABLE is retried by the client, then succeeds', needsEmulator, async () => {
  const model = 'gemini-2.0-flash-lite';
  const before = await upstreamCalls(model, 'generateContent');
  await armFault('503', 2, model, 'generateContent');
  const reply = await gw.chat.chat(ask('hi', model));
  assert.equal(reply.candidates[0].finishReason, 'FINISH_REASON_STOP');
  assert.equal((await upstreamCalls(model, 'generateContent')) - before, 3);
});

test('with retry off, UNAVAILABLE reaches the caller with its reason', needsEmulator, async () => {
  const model = 'gemini-2.0-flash-lite';
  const once = connect(ADDRESS, { retry: false, metadata: AUTH, deadlineMs: 10_000 });
  try {
    await armFault('503', 1, model, 'generateContent');
    const err = await failure(once.chat.chat(ask('hi', model)));
    assert.equal(err.code, grpc.status.UNAVAILABLE);
    assert.equal(err.reason, 'UPSTREAM_UNAVAILABLE');
    assert.equal(err.errorInfo.metadata.http_status, '503');
  } finally {
    once.close();
  }
});
