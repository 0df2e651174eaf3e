'use strict';
/** Offline: decoding of google.rpc.Status details and the GatewayError built from them. */

const test = require('node:test');
const assert = require('node:assert/strict');
const {
  GatewayError,
  decodeStatus,
  encodeStatus,
  statusFromMetadata,
  toMetadata,
  grpc,
} = require('..');

const RICH = {
  code: grpc.status.RESOURCE_EXHAUSTED,
  message: 'Vertex AI: quota exceeded',
  details: [
    {
      type: 'google.rpc.ErrorInfo',
      value: {
        reason: 'UPSTREAM_RATE_LIMITED',
        domain: 'vertex-gateway',
        metadata: { http_status: '429', attempts: '1' },
      },
    },
    { type: 'google.rpc.RetryInfo', value: { retryDelay: { seconds: 1, nanos: 250_000_000 } } },
    {
      type: 'google.rpc.QuotaFailure',
      value: { violations: [{ subject: 'vertex-ai', description: 'per-minute quota' }] },
    },
    {
      type: 'google.rpc.BadRequest',
      value: { fieldViolations: [{ field: 'messages[0].role', description: 'is required' }] },
    },
  ],
};

test('a Status round-trips with every detail type decoded', () => {
  const status = decodeStatus(encodeStatus(RICH));
  assert.equal(status.code, grpc.status.RESOURCE_EXHAUSTED);
  assert.equal(status.message, 'Vertex AI: quota exceeded');
  assert.deepEqual(
    status.details.map((d) => d.type),
    [
      'google.rpc.ErrorInfo',
      'google.rpc.RetryInfo',
      'google.rpc.QuotaFailure',
      'google.rpc.BadRequest',
    ],
  );
  assert.deepEqual(status.details[0].value.metadata, { http_status: '429', attempts: '1' });
  assert.equal(status.details[1].value.retryDelayMs, 1250);
  assert.equal(status.details[2].value.violations[0].subject, 'vertex-ai');
  assert.equal(status.details[3].value.fieldViolations[0].field, 'messages[0].role');
});

test('a detail of a type this client does not know is kept undecoded', () => {
  const bytes = encodeStatus({ code: 2, message: 'x' });
  // Append an Any by hand: field 3 (details), type_url field 1, value field 2.
  const typeUrl = Buffer.from('type.googleapis.com/acme.Custom');
  const any = Buffer.concat([
    Buffer.from([0x0a, typeUrl.length]),
    typeUrl,
    Buffer.from([0x12, 2, 0x08, 0x01]),
  ]);
  const status = decodeStatus(Buffer.concat([bytes, Buffer.from([0x1a, any.length]), any]));
  assert.equal(status.details.length, 1);
  assert.equal(status.details[0].type, 'acme.Custom');
  assert.equal(status.details[0].value, null);
  assert.deepEqual(status.details[0].raw, Buffer.from([0x08, 0x01]));
});

test('GatewayError reads the details trailer of a grpc-js error', () => {
  const trailers = new grpc.Metadata();
  trailers.set('grpc-status-details-bin', encodeStatus(RICH));
  trailers.set('x-request-id', 'abc');
  const err = GatewayError.from({ code: RICH.code, details: RICH.message, metadata: trailers });
  assert.ok(err instanceof Error);
  assert.equal(err.name, 'GatewayError');
  assert.equal(err.codeName, 'RESOURCE_EXHAUSTED');
  assert.equal(err.message, 'RESOURCE_EXHAUSTED: Vertex AI: quota exceeded');
  assert.equal(err.reason, 'UPSTREAM_RATE_LIMITED');
  assert.equal(err.errorInfo.domain, 'vertex-gateway');
  assert.equal(err.retryInfo.retryDelayMs, 1250);
  assert.equal(err.quotaFailure.violations[0].description, 'per-minute quota');
  assert.equal(err.badRequest.fieldViolations[0].description, 'is required');
  assert.equal(err.metadata.get('x-request-id')[0], 'abc');
  assert.equal(GatewayError.from(err), err);
});

test('an error without the trailer, or with a corrupt one, keeps its code and message', () => {
  const plain = GatewayError.from({ code: 14, details: 'connection refused' });
  assert.equal(plain.codeName, 'UNAVAILABLE');
  assert.equal(plain.reason, '');
  assert.equal(plain.status, null);
  assert.equal(plain.errorInfo, null);

  const trailers = new grpc.Metadata();
  trailers.set('grpc-status-details-bin', Buffer.from([0x1a, 0x7f, 0x00]));
  const corrupt = GatewayError.from({ code: 13, details: 'boom', metadata: trailers });
  assert.equal(corrupt.codeName, 'INTERNAL');
  assert.equal(corrupt.status, null);
  assert.ok(corrupt.statusDecodeError instanceof Error);
});

test('statusFromMetadata is null without the trailer', () => {
  assert.equal(statusFromMetadata(new grpc.Metadata()), null);
  assert.equal(statusFromMetadata(undefined), null);
});

test('toMetadata merges, repeats and keeps binary values', () => {
  const md = toMetadata({ 'x-api-key': 'k1', 'x-tag': ['a', 'b'] }, undefined, {
    'x-tag': 'c',
    'trace-bin': Buffer.from([1, 2]),
  });
  assert.deepEqual(md.get('x-api-key'), ['k1']);
  assert.deepEqual(md.get('x-tag'), ['a', 'b', 'c']);
  assert.deepEqual(md.get('trace-bin'), [Buffer.from([1, 2])]);
});
