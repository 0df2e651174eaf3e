'use strict';
/**
 * Decoding of the rich error model: the `grpc-status-details-bin` trailer holds a serialized
 * `google.rpc.Status` whose `details` are `Any`s (ErrorInfo, BadRequest, RetryInfo, ...).
 *
 * The google/rpc protos are vendored under `vendor/` (Apache-2.0, headers kept) rather than
 * pulled from a package of all googleapis protos, for two small files.
 */

const path = require('node:path');
const protobuf = require('protobufjs');

const STATUS_DETAILS_KEY = 'grpc-status-details-bin';
const VENDOR = path.resolve(__dirname, '..', 'vendor');

/** Plain-object conversion: camelCase keys as the rest of the client, numbers for int64. */
const TO_OBJECT = Object.freeze({ longs: Number, enums: String, defaults: true, arrays: true });

let cachedRoot = null;

/** The protobufjs root with google.rpc.Status and every error detail type. */
function rpcRoot() {
  if (cachedRoot === null) {
    const root = new protobuf.Root();
    // google/protobuf/*.proto (Any, Duration) are bundled with protobufjs; the rest is ours.
    root.resolvePath = (_origin, target) =>
      target.startsWith('google/protobuf/') ? target : path.join(VENDOR, target);
    root.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto']);
    cachedRoot = root.resolveAll();
  }
  return cachedRoot;
}

/**
 * @typedef {object} ErrorInfo
 * @property {string} reason stable, UPPER_SNAKE_CASE (for example MODEL_NOT_FOUND)
 * @property {string} domain the service that produced it ("vertex-gateway")
 * @property {Record<string, string>} metadata further facts (model, http_status, ...)
 *
 * @typedef {object} FieldViolation
 * @property {string} field path of the bad field ("messages[0].role")
 * @property {string} description what is wrong with it
 *
 * @typedef {object} BadRequest
 * @property {FieldViolation[]} fieldViolations
 *
 * @typedef {object} RetryInfo
 * @property {{seconds: number, nanos: number}} retryDelay as sent
 * @property {number} retryDelayMs the same in milliseconds
 *
 * @typedef {object} QuotaViolation
 * @property {string} subject what ran out ("vertex-ai", a caller)
 * @property {string} description
 *
 * @typedef {object} QuotaFailure
 * @property {QuotaViolation[]} violations
 *
 * @typedef {object} StatusDetail one decoded `Any`
 * @property {string} type the full message name ("google.rpc.ErrorInfo")
 * @property {object|null} value the decoded message; null when the type is not known here
 * @property {Buffer} [raw] the undecoded bytes, for a type that is not known here
 *
 * @typedef {object} RpcStatus a decoded google.rpc.Status
 * @property {number} code
 * @property {string} message
 * @property {StatusDetail[]} details
 */

/**
 * Decodes a serialized `google.rpc.Status`.
 * @param {Uint8Array} bytes
 * @returns {RpcStatus}
 */
function decodeStatus(bytes) {
  const root = rpcRoot();
  const Status = root.lookupType('google.rpc.Status');
  const status = Status.decode(bytes);
  const details = status.details.map((any) => decodeAny(root, any.type_url, any.value));
  return { code: status.code, message: status.message, details };
}

/**
 * @param {protobuf.Root} root
 * @param {string} typeUrl
 * @param {Uint8Array} value
 * @returns {StatusDetail}
 */
function decodeAny(root, typeUrl, value) {
  const type = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  let messageType = null;
  try {
    messageType = root.lookupType(type);
  } catch {
    return { type, value: null, raw: Buffer.from(value) };
  }
  const decoded = messageType.toObject(messageType.decode(value), TO_OBJECT);
  if (type === 'google.rpc.RetryInfo' && decoded.retryDelay) {
    const { seconds, nanos } = decoded.retryDelay;
    decoded.retryDelayMs = seconds * 1000 + Math.round(nanos / 1e6);
  }
  return { type, value: decoded };
}

/**
 * The decoded status of a gRPC trailer set, or null when it carries no rich status.
 * @param {import('@grpc/grpc-js').Metadata | undefined} metadata
 * @returns {RpcStatus | null}
 */
function statusFromMetadata(metadata) {
  const values = metadata ? metadata.get(STATUS_DETAILS_KEY) : [];
  if (values.length === 0) {
    return null;
  }
  const bytes = typeof values[0] === 'string' ? Buffer.from(values[0], 'base64') : values[0];
  return decodeStatus(bytes);
}

/**
 * Serializes a `google.rpc.Status` given as plain objects: details as `{type, value}`. For
 * tests and for servers written in Node that want to answer with the same error model.
 * @param {{code: number, message: string, details?: {type: string, value: object}[]}} status
 * @returns {Buffer}
 */
function encodeStatus(status) {
  const root = rpcRoot();
  const details = (status.details ?? []).map(({ type, value }) => {
    const messageType = root.lookupType(type);
    return {
      type_url: `type.googleapis.com/${type}`, // protobufjs's bundled Any keeps proto names
      value: messageType.encode(messageType.fromObject(value)).finish(),
    };
  });
  const Status = root.lookupType('google.rpc.Status');
  const message = Status.fromObject({ code: status.code, message: status.message, details });
  return Buffer.from(Status.encode(message).finish());
}

module.exports = { decodeStatus, encodeStatus, statusFromMetadata, STATUS_DETAILS_KEY };
