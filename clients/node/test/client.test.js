'use strict';
/**
 * Offline: every service of the protos is exposed, and the wrappers (unary, server stream,
 * client stream) carry deadlines and metadata and decode errors, against a grpc-js server
 * in this process that plays the gateway.
 */

const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');
const assert = require('node:assert/strict');
const {
  connect,
  GatewayError,
  encodeStatus,
  loadPackageDefinition,
  protosDir,
  grpc,
} = require('..');

/** Every `service` and its `rpc`s, read from the .proto files themselves. */
function servicesInProtos() {
  const dir = path.join(protosDir(), 'vertex_gateway', 'v1');
  const services = {};
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.proto'))) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    for (const [, name, body] of text.matchAll(/^service (\w+) \{([\s\S]*?)^\}/gm)) {
      services[name] = [...body.matchAll(/^\s*rpc (\w+)\(/gm)].map(([, rpc]) => rpc);
    }
  }
  return services;
}

function lowerFirst(name) {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

test('a client exposes every service and method of the protos', () => {
  const services = servicesInProtos();
  assert.deepEqual(Object.keys(services).sort(), [
    'BatchService',
    'ChatService',
    'EmbeddingService',
    'FileService',
    'ImageService',
    'ModelService',
    'SpeechService',
    'TuningService',
    'VideoService',
  ]);
  const gw = connect('127.0.0.1:1');
  try {
    for (const [service, rpcs] of Object.entries(services)) {
      const wrapper = gw[lowerFirst(service.replace(/Service$/, ''))];
      assert.ok(wrapper, `no wrapper for ${service}`);
      assert.deepEqual(Object.keys(wrapper).sort(), rpcs.map(lowerFirst).sort(), service);
      assert.ok(gw.raw[service] instanceof grpc.Client);
    }
    // One channel for all of them.
    const channels = new Set(Object.values(gw.raw).map((c) => c.getChannel()));
    assert.equal(channels.size, 1);
  } finally {
    gw.close();
  }
});

/** A stand-in gateway: records what it received and answers as told. */
async function startServer() {
  const pkg = grpc.loadPackageDefinition(loadPackageDefinition()).vertex_gateway.v1;
  const seen = [];
  const notFound = encodeStatus({
    code: grpc.status.NOT_FOUND,
    message: 'no such file',
    details: [
      {
        type: 'google.rpc.ErrorInfo',
        value: { reason: 'FILE_NOT_FOUND', domain: 'vertex-gateway' },
      },
    ],
  });
  const server = new grpc.Server();
  server.addService(pkg.ChatService.service, {
    chat(call, callback) {
      seen.push({ metadata: call.metadata.getMap(), deadline: Number(call.getDeadline()) });
      const trailers = new grpc.Metadata();
      trailers.set('x-usage-cost', '0.001');
      callback(null, { id: 'r1', model: call.request.model }, trailers);
    },
    streamChat(call) {
      call.write({ id: 's1' });
      call.write({ id: 's1' });
      const trailers = new grpc.Metadata();
      trailers.set(
        'grpc-status-details-bin',
        encodeStatus({
          code: grpc.status.UNAVAILABLE,
          message: 'upstream went away',
          details: [
            { type: 'google.rpc.ErrorInfo', value: { reason: 'UPSTREAM_CONNECTION_LOST' } },
          ],
        }),
      );
      call.emit('error', {
        code: grpc.status.UNAVAILABLE,
        details: 'upstream went away',
        metadata: trailers,
      });
    },
    countTokens(call, callback) {
      callback({ code: grpc.status.UNIMPLEMENTED, details: 'not here' });
    },
  });
  server.addService(pkg.FileService.service, {
    uploadFile(call, callback) {
      let name = '';
      let size = 0;
      call.on('data', (request) => {
        if (request.payload === 'metadata') {
          name = request.metadata.displayName;
        } else {
          size += request.chunk.length;
        }
      });
      call.on('end', () => callback(null, { name, sizeBytes: size }));
    },
    getFile(call, callback) {
      const trailers = new grpc.Metadata();
      trailers.set('grpc-status-details-bin', notFound);
      callback({ code: grpc.status.NOT_FOUND, details: 'no such file', metadata: trailers });
    },
    downloadFile(call) {
      call.end();
    },
  });
  const port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { server, seen, address: `127.0.0.1:${port}` };
}

test('unary calls carry the deadline and merged metadata; trailers are observed', async () => {
  const { server, seen, address } = await startServer();
  const gw = connect(address, { metadata: { 'x-api-key': 'k' }, deadlineMs: 5_000 });
  try {
    const before = Date.now();
    let trailers = null;
    const reply = await gw.chat.chat(
      { model: 'm' },
      { metadata: { 'x-team': 'search' }, onTrailers: (md, status) => (trailers = { md, status }) },
    );
    assert.equal(reply.model, 'm');
    assert.equal(seen[0].metadata['x-api-key'], 'k');
    assert.equal(seen[0].metadata['x-team'], 'search');
    const { deadline } = seen[0];
    assert.ok(deadline >= before + 4_000 && deadline <= Date.now() + 5_000, String(deadline));
    assert.equal(trailers.md.get('x-usage-cost')[0], '0.001');
    assert.equal(trailers.status.code, grpc.status.OK);

    await gw.chat.chat({ model: 'm' }, { deadlineMs: 60_000 }); // a call's own deadline wins
    assert.ok(seen[1].deadline > Date.now() + 30_000);

    const unimplemented = await gw.chat.countTokens({}).catch((e) => e);
    assert.ok(unimplemented instanceof GatewayError);
    assert.equal(unimplemented.codeName, 'UNIMPLEMENTED');
    const missing = await gw.file.getFile({ name: 'files/x' }).catch((e) => e);
    assert.equal(missing.reason, 'FILE_NOT_FOUND');
  } finally {
    gw.close();
    server.forceShutdown();
  }
});

test('a server stream yields its messages, then throws the decoded error', async () => {
  const { server, address } = await startServer();
  const gw = connect(address, { retry: false });
  try {
    const ids = [];
    const err = await (async () => {
      for await (const message of gw.chat.streamChat({ model: 'm' })) {
        ids.push(message.id);
      }
    })().catch((e) => e);
    assert.deepEqual(ids, ['s1', 's1']);
    assert.ok(err instanceof GatewayError);
    assert.equal(err.codeName, 'UNAVAILABLE');
    assert.equal(err.reason, 'UPSTREAM_CONNECTION_LOST');
  } finally {
    gw.close();
    server.forceShutdown();
  }
});

test('a client stream sends every request from an async iterable', async () => {
  const { server, address } = await startServer();
  const gw = connect(address);
  try {
    async function* upload() {
      yield { metadata: { displayName: 'notes.txt', mimeType: 'text/plain' } };
      for (let i = 0; i < 50; i += 1) {
        yield { chunk: Buffer.alloc(64 * 1024, i) };
      }
    }
    const file = await gw.file.uploadFile(upload());
    assert.equal(file.name, 'notes.txt');
    assert.equal(file.sizeBytes, 50 * 64 * 1024);

    const broken = (async function* () {
      yield { metadata: { displayName: 'x' } };
      throw new Error('disk read failed');
    })();
    await assert.rejects(gw.file.uploadFile(broken), /disk read failed/);
  } finally {
    gw.close();
    server.forceShutdown();
  }
});

test('a deadline that passes fails the call with DEADLINE_EXCEEDED', async () => {
  // A listener that accepts connections and never speaks gRPC.
  const net = require('node:net');
  const sockets = [];
  const silent = net.createServer((socket) => sockets.push(socket));
  await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const gw = connect(`127.0.0.1:${silent.address().port}`, { deadlineMs: 200 });
  try {
    const err = await gw.model.listModels({}).catch((e) => e);
    assert.ok(err instanceof GatewayError);
    assert.equal(err.codeName, 'DEADLINE_EXCEEDED');
  } finally {
    gw.close();
    sockets.forEach((s) => s.destroy());
    silent.close();
  }
});
