'use strict';
/**
 * Where the gateway's .proto files are and how they are loaded.
 *
 * The protos are read at run time, never copied by hand: inside the repository they come from
 * `<repo>/protos`, the one source of truth that the server and the Python stubs are built from;
 * a packed tarball (`npm pack`) carries a copy made by `scripts/copy-protos.js` at pack time.
 */

const fs = require('node:fs');
const path = require('node:path');
const protoLoader = require('@grpc/proto-loader');

const PACKAGE_ROOT = path.resolve(__dirname, '..');
/** The copy `npm pack` puts in the tarball (absent from a working tree). */
const PACKED_PROTOS = path.join(PACKAGE_ROOT, 'protos');
/** The repository's protos, when this package is used from a checkout. */
const REPO_PROTOS = path.resolve(PACKAGE_ROOT, '..', '..', 'protos');
/** The gateway's proto package, relative to a protos root. */
const API_DIR = path.join('vertex_gateway', 'v1');

/** proto-loader options: the shapes every method of this client takes and returns. */
const LOADER_OPTIONS = Object.freeze({
  keepCase: false, // camelCase fields, as in the gateway's JSON form (generationConfig)
  longs: Number, // int64 fields are sizes and counts, far below 2^53
  enums: String, // 'FINISH_REASON_STOP', not 1; either is accepted in requests
  defaults: true, // proto3 semantics: an unset field reads as its default
  oneofs: true, // part.kind === 'text' names the member of a oneof that is set
});

/**
 * The directory holding `vertex_gateway/v1/*.proto`: `explicit` when given, else the packed
 * copy, else the repository's.
 * @param {string} [explicit]
 * @returns {string}
 */
function protosDir(explicit) {
  const candidates = explicit ? [explicit] : [PACKED_PROTOS, REPO_PROTOS];
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, API_DIR, 'chat.proto'))) {
      return dir;
    }
  }
  throw new Error(
    `vertex-gateway protos not found in ${candidates.join(' or ')}; ` +
      'use the package from the repository or from `npm pack`',
  );
}

/**
 * Every gateway .proto file, relative to `root` (as their imports name each other).
 * @param {string} root
 * @returns {string[]}
 */
function protoFiles(root) {
  return fs
    .readdirSync(path.join(root, API_DIR))
    .filter((name) => name.endsWith('.proto'))
    .sort()
    .map((name) => path.posix.join('vertex_gateway', 'v1', name));
}

/** Package definitions already loaded, by protos root: parsing is done once per process. */
const loaded = new Map();

/**
 * The grpc-js package definition of every gateway service.
 * @param {string} [dir] a protos root; see {@link protosDir}
 * @returns {import('@grpc/proto-loader').PackageDefinition}
 */
function loadPackageDefinition(dir) {
  const root = protosDir(dir);
  if (!loaded.has(root)) {
    const options = { ...LOADER_OPTIONS, includeDirs: [root] };
    loaded.set(root, protoLoader.loadSync(protoFiles(root), options));
  }
  return loaded.get(root);
}

module.exports = { protosDir, protoFiles, loadPackageDefinition, LOADER_OPTIONS, API_DIR };
