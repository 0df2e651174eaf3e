'use strict';
/**
 * vertex-gateway's Node client.
 *
 *   const { connect } = require('vertex-gateway-client');
 *   const gw = connect('localhost:50051', { deadlineMs: 30_000 });
 *   const reply = await gw.chat.chat({ model: 'gemini-2.5-flash', messages: [...] });
 */

const grpc = require('@grpc/grpc-js');
const { connect, GatewayClient } = require('./lib/client');
const { GatewayError, CODE_NAMES } = require('./lib/errors');
const { decodeStatus, encodeStatus, statusFromMetadata } = require('./lib/status');
const { loadPackageDefinition, protosDir } = require('./lib/protos');
const { toMetadata } = require('./lib/calls');

module.exports = {
  connect,
  GatewayClient,
  GatewayError,
  CODE_NAMES,
  decodeStatus,
  encodeStatus,
  statusFromMetadata,
  loadPackageDefinition,
  protosDir,
  toMetadata,
  /** grpc-js itself, for credentials and status codes (`grpc.status.NOT_FOUND`). */
  grpc,
};
