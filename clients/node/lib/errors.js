'use strict';
/** The error every failed call rejects (or a stream throws) with, its details decoded. */

const grpc = require('@grpc/grpc-js');
const { statusFromMetadata } = require('./status');

/** gRPC code number → name ("NOT_FOUND"). */
const CODE_NAMES = Object.freeze(
  Object.fromEntries(Object.entries(grpc.status).map(([name, number]) => [number, name])),
);

/**
 * A failed gateway call: the gRPC code and message plus the `google.rpc` details the gateway
 * attaches. `reason` (from ErrorInfo) is the stable key to branch on; messages may change.
 */
class GatewayError extends Error {
  /**
   * @param {object} fields
   * @param {number} fields.code the gRPC status code
   * @param {string} fields.details the status message
   * @param {import('@grpc/grpc-js').Metadata} [fields.metadata] the trailers
   * @param {import('./status').RpcStatus | null} [fields.status] the decoded rich status
   * @param {Error} [fields.cause] the grpc-js error
   */
  constructor({ code, details, metadata, status = null, cause }) {
    const codeName = CODE_NAMES[code] ?? String(code);
    super(`${codeName}: ${details}`, cause ? { cause } : undefined);
    this.name = 'GatewayError';
    /** @type {number} */
    this.code = code;
    /** @type {string} */
    this.codeName = codeName;
    /** @type {string} */
    this.details = details;
    /** @type {import('@grpc/grpc-js').Metadata} */
    this.metadata = metadata ?? new grpc.Metadata();
    /** @type {import('./status').RpcStatus | null} */
    this.status = status;
    /** @type {import('./status').ErrorInfo | null} */
    this.errorInfo = this.detail('google.rpc.ErrorInfo');
    /** @type {import('./status').BadRequest | null} */
    this.badRequest = this.detail('google.rpc.BadRequest');
    /** @type {import('./status').RetryInfo | null} */
    this.retryInfo = this.detail('google.rpc.RetryInfo');
    /** @type {import('./status').QuotaFailure | null} */
    this.quotaFailure = this.detail('google.rpc.QuotaFailure');
  }

  /** The ErrorInfo reason ("MODEL_NOT_FOUND"), or '' when the status carries none. */
  get reason() {
    return this.errorInfo ? this.errorInfo.reason : '';
  }

  /**
   * The first detail of a type, decoded, or null.
   * @param {string} type a full message name ("google.rpc.ErrorInfo")
   * @returns {any}
   */
  detail(type) {
    const found = this.status?.details.find((d) => d.type === type);
    return found ? found.value : null;
  }

  /**
   * The same error from a grpc-js `ServiceError` (or status), its trailers decoded.
   * @param {{code: number, details: string, metadata?: import('@grpc/grpc-js').Metadata}} err
   * @returns {GatewayError}
   */
  static from(err) {
    if (err instanceof GatewayError) {
      return err;
    }
    let status = null;
    let decodeError = null;
    try {
      status = statusFromMetadata(err.metadata);
    } catch (caught) {
      decodeError = caught; // a trailer that does not decode must not hide the call's own error
    }
    const error = new GatewayError({
      code: err.code,
      details: err.details ?? err.message ?? '',
      metadata: err.metadata,
      status,
      cause: err instanceof Error ? err : undefined,
    });
    if (decodeError) {
      /** Why `status` is null although the trailer was present. */
      error.statusDecodeError = decodeError;
    }
    return error;
  }
}

module.exports = { GatewayError, CODE_NAMES };
