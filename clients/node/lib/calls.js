'use strict';
/**
 * One gateway method as a plain function: unary calls return a Promise, server streams an
 * async iterable, client streams take an (async) iterable of requests. Each applies the
 * deadline and metadata and turns failures into {@link GatewayError}.
 */

const { once } = require('node:events');
const grpc = require('@grpc/grpc-js');
const { GatewayError } = require('./errors');

/**
 * @typedef {Record<string, string | Buffer | Array<string | Buffer>>} MetadataInit
 *   plain metadata; keys ending in `-bin` take Buffers
 *
 * @typedef {object} CallOptions
 * @property {number} [deadlineMs] time allowed for the call, from now
 * @property {Date | number} [deadline] absolute deadline (wins over deadlineMs)
 * @property {MetadataInit} [metadata] added to the client's metadata for this call
 * @property {AbortSignal} [signal] cancels the call (CANCELLED) when aborted
 * @property {(headers: grpc.Metadata) => void} [onHeaders] the response headers
 * @property {(trailers: grpc.Metadata, status: {code: number, details: string}) => void}
 *   [onTrailers] the trailers and final status, on success and on failure (usage and request
 *   ids travel there)
 *
 * @typedef {object} Defaults per-client settings every call starts from
 * @property {number} [deadlineMs]
 * @property {MetadataInit} [metadata]
 */

/**
 * A grpc-js Metadata from plain objects, later ones adding to earlier ones.
 * @param {...(MetadataInit | undefined)} inits
 * @returns {grpc.Metadata}
 */
function toMetadata(...inits) {
  const metadata = new grpc.Metadata();
  for (const init of inits) {
    for (const [key, value] of Object.entries(init ?? {})) {
      for (const item of Array.isArray(value) ? value : [value]) {
        metadata.add(key, item);
      }
    }
  }
  return metadata;
}

/**
 * @param {Defaults} defaults
 * @param {CallOptions} opts
 * @returns {grpc.CallOptions}
 */
function grpcCallOptions(defaults, opts) {
  const deadlineMs = opts.deadlineMs ?? defaults.deadlineMs;
  const deadline =
    opts.deadline ?? (deadlineMs === undefined ? undefined : Date.now() + deadlineMs);
  return deadline === undefined ? {} : { deadline };
}

/**
 * Hooks the caller's observers and abort signal to a started call.
 * @param {grpc.Call} call
 * @param {CallOptions} opts
 */
function observe(call, opts) {
  if (opts.onHeaders) {
    call.on('metadata', opts.onHeaders);
  }
  const { signal } = opts;
  const abort = () => call.cancel();
  if (signal) {
    if (signal.aborted) {
      abort();
    } else {
      signal.addEventListener('abort', abort, { once: true });
    }
  }
  call.on('status', (status) => {
    signal?.removeEventListener('abort', abort);
    opts.onTrailers?.(status.metadata, { code: status.code, details: status.details });
  });
}

/**
 * @param {grpc.Client} client
 * @param {string} name the grpc-js method name
 * @param {Defaults} defaults
 * @returns {(request?: object, opts?: CallOptions) => Promise<any>}
 */
function unary(client, name, defaults) {
  return (request = {}, opts = {}) =>
    new Promise((resolve, reject) => {
      const call = client[name](
        request,
        toMetadata(defaults.metadata, opts.metadata),
        grpcCallOptions(defaults, opts),
        (err, response) => (err ? reject(GatewayError.from(err)) : resolve(response)),
      );
      observe(call, opts);
    });
}

/**
 * @param {grpc.Client} client
 * @param {string} name
 * @param {Defaults} defaults
 * @returns {(request?: object, opts?: CallOptions) => AsyncIterable<any> & {cancel(): void}}
 */
function serverStream(client, name, defaults) {
  return (request = {}, opts = {}) => {
    const call = client[name](
      request,
      toMetadata(defaults.metadata, opts.metadata),
      grpcCallOptions(defaults, opts),
    );
    observe(call, opts);
    // Listen from the start: grpc-js ends the stream and then emits 'error', and a failure that
    // arrives before the caller starts reading would otherwise be thrown as uncaught and the
    // iteration would end as if the stream had succeeded.
    let failure = null;
    call.on('error', (err) => {
      failure = err;
    });
    const status = new Promise((resolve) => call.on('status', resolve));
    let finished = false;
    status.then(() => {
      finished = true;
    });
    async function* messages() {
      try {
        for await (const message of call) {
          yield message;
        }
        await status; // the stream has ended: its status says whether it ended whole
      } catch (err) {
        throw GatewayError.from(err);
      } finally {
        if (!finished) {
          call.cancel(); // the caller stopped reading early: free the stream on the server
        }
      }
      if (failure !== null) {
        throw GatewayError.from(failure);
      }
    }
    const iterable = messages();
    iterable.cancel = () => call.cancel();
    return iterable;
  };
}

/**
 * @param {grpc.Client} client
 * @param {string} name
 * @param {Defaults} defaults
 * @returns {(requests: Iterable<object> | AsyncIterable<object>, opts?: CallOptions) =>
 *   Promise<any>}
 */
function clientStream(client, name, defaults) {
  return async (requests, opts = {}) => {
    let call;
    const reply = new Promise((resolve, reject) => {
      call = client[name](
        toMetadata(defaults.metadata, opts.metadata),
        grpcCallOptions(defaults, opts),
        (err, response) => (err ? reject(GatewayError.from(err)) : resolve(response)),
      );
    });
    observe(call, opts);
    let failed = false;
    reply.catch(() => {
      failed = true; // the server answered early (an error): stop sending
    });
    try {
      for await (const request of requests) {
        if (failed) {
          break;
        }
        if (!call.write(request)) {
          await Promise.race([once(call, 'drain'), reply.catch(() => undefined)]);
        }
      }
    } catch (err) {
      call.cancel(); // the request source failed: the upload must not look complete
      reply.catch(() => undefined);
      throw err;
    }
    call.end();
    return reply;
  };
}

/**
 * A bidirectional stream, as grpc-js returns it, with the deadline and metadata applied. (The
 * gateway has none today; this keeps the client whole if one is added.)
 * @param {grpc.Client} client
 * @param {string} name
 * @param {Defaults} defaults
 */
function bidiStream(client, name, defaults) {
  return (opts = {}) => {
    const call = client[name](
      toMetadata(defaults.metadata, opts.metadata),
      grpcCallOptions(defaults, opts),
    );
    observe(call, opts);
    return call;
  };
}

/**
 * The wrapper for one method definition.
 * @param {grpc.Client} client
 * @param {string} name
 * @param {{requestStream: boolean, responseStream: boolean}} definition
 * @param {Defaults} defaults
 */
function wrapMethod(client, name, definition, defaults) {
  if (definition.requestStream && definition.responseStream) {
    return bidiStream(client, name, defaults);
  }
  if (definition.requestStream) {
    return clientStream(client, name, defaults);
  }
  if (definition.responseStream) {
    return serverStream(client, name, defaults);
  }
  return unary(client, name, defaults);
}

module.exports = { wrapMethod, toMetadata };
