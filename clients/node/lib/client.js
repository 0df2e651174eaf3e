'use strict';
/** `connect()`: one channel to the gateway and a wrapper for each of its services. */

const grpc = require('@grpc/grpc-js');
const { loadPackageDefinition } = require('./protos');
const { wrapMethod } = require('./calls');

const PACKAGE = 'vertex_gateway.v1';
/** The gateway's own limit (server.max_message_bytes): images and audio are large. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * Channel defaults. Keepalive stays above the gateway's accepted minimum ping interval (10 s)
 * so it never answers with GOAWAY "too_many_pings". Retries follow Google's guidance: only
 * UNAVAILABLE, with exponential backoff; grpc-js retries a call only until the first response
 * arrives, so a stream that already produced messages is never replayed.
 */
const DEFAULT_CHANNEL_OPTIONS = Object.freeze({
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 20_000,
});

/** The retry policy applied to every gateway method unless `retry: false`. */
const RETRY_POLICY = Object.freeze({
  maxAttempts: 3,
  initialBackoff: '0.2s',
  maxBackoff: '2s',
  backoffMultiplier: 2,
  retryableStatusCodes: ['UNAVAILABLE'],
});

/**
 * @typedef {object} ConnectOptions
 * @property {grpc.ChannelCredentials} [credentials] default: plaintext
 *   (`grpc.credentials.createSsl(ca)` for TLS, with cert and key for mTLS)
 * @property {import('./calls').MetadataInit} [metadata] sent with every call
 *   (`{'x-api-key': key}`)
 * @property {number} [deadlineMs] deadline of every call that sets none itself
 * @property {boolean} [retry] retry UNAVAILABLE (default true)
 * @property {Record<string, string | number>} [channelOptions] grpc-js channel options, over
 *   the defaults
 * @property {string} [protosDir] where `vertex_gateway/v1/*.proto` are (default: found)
 */

/**
 * The service config for the retry policy, naming every service (grpc-js matches by name).
 * @param {string[]} services full service names
 * @returns {string}
 */
function retryServiceConfig(services) {
  return JSON.stringify({
    methodConfig: [{ name: services.map((service) => ({ service })), retryPolicy: RETRY_POLICY }],
  });
}

/** `ChatService` → `chat`, `EmbeddingService` → `embedding`. */
function propertyName(serviceName) {
  const base = serviceName.replace(/Service$/, '');
  return base.charAt(0).toLowerCase() + base.slice(1);
}

/**
 * A connection to the gateway. Each service is a property holding its methods in camelCase:
 * `chat.chat`, `chat.streamChat`, `embedding.embed`, `model.listModels`, `image`,
 * `speech`, `batch`, `file`, `video`, `tuning`. `raw` holds the underlying grpc-js clients by
 * service name.
 */
class GatewayClient {
  /**
   * @param {string} address host:port
   * @param {ConnectOptions} [options]
   */
  constructor(address, options = {}) {
    const definition = loadPackageDefinition(options.protosDir);
    const loaded = grpc.loadPackageDefinition(definition);
    const pkg = PACKAGE.split('.').reduce((node, part) => node[part], loaded);
    const serviceNames = Object.keys(pkg).filter((name) => typeof pkg[name]?.service === 'object');
    const channelOptions = { ...DEFAULT_CHANNEL_OPTIONS, ...(options.channelOptions ?? {}) };
    if (options.retry !== false && !('grpc.service_config' in channelOptions)) {
      channelOptions['grpc.service_config'] = retryServiceConfig(
        serviceNames.map((name) => `${PACKAGE}.${name}`),
      );
    }
    const credentials = options.credentials ?? grpc.credentials.createInsecure();
    /** @type {import('./calls').Defaults} */
    const defaults = { deadlineMs: options.deadlineMs, metadata: options.metadata };

    /** @type {Record<string, grpc.Client>} the grpc-js clients, by service name */
    this.raw = {};
    /** @type {string} */
    this.address = address;
    let channel;
    for (const name of serviceNames) {
      const Client = pkg[name];
      // One channel for all services: one connection, one keepalive, one retry budget.
      const client = channel
        ? new Client(address, credentials, { ...channelOptions, channelOverride: channel })
        : new Client(address, credentials, channelOptions);
      channel = channel ?? client.getChannel();
      this.raw[name] = client;
      const methods = {};
      for (const [method, spec] of Object.entries(Client.service)) {
        methods[spec.originalName ?? method] = wrapMethod(client, method, spec, defaults);
      }
      this[propertyName(name)] = Object.freeze(methods);
    }
    this._channel = channel;
  }

  /**
   * Resolves once the channel is connected (rejects after `deadlineMs`).
   * @param {number} [deadlineMs]
   * @returns {Promise<void>}
   */
  waitForReady(deadlineMs = 10_000) {
    const client = Object.values(this.raw)[0];
    return new Promise((resolve, reject) => {
      client.waitForReady(Date.now() + deadlineMs, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Closes the channel; calls in flight are cancelled. */
  close() {
    this._channel?.close();
  }
}

/**
 * Connects to the gateway at `address` ("host:port").
 * @param {string} address
 * @param {ConnectOptions} [options]
 * @returns {GatewayClient}
 */
function connect(address, options) {
  return new GatewayClient(address, options);
}

module.exports = { connect, GatewayClient, DEFAULT_CHANNEL_OPTIONS, RETRY_POLICY, PACKAGE };
