'use strict';
/**
 * `npm pack` hooks: before packing, copy the repository's gateway protos into `protos/` so the
 * tarball works outside the repository; after packing (`--remove`), delete the copy so the
 * working tree never holds a second, possibly stale, set of protos.
 */

const fs = require('node:fs');
const path = require('node:path');

const PACKAGE_ROOT = path.resolve(__dirname, '..');
const SOURCE = path.resolve(PACKAGE_ROOT, '..', '..', 'protos', 'vertex_gateway');
const TARGET_ROOT = path.join(PACKAGE_ROOT, 'protos');

fs.rmSync(TARGET_ROOT, { recursive: true, force: true });
if (!process.argv.includes('--remove')) {
  if (!fs.existsSync(path.join(SOURCE, 'v1', 'chat.proto'))) {
    console.error(`copy-protos: no gateway protos at ${SOURCE}; pack from the repository`);
    process.exit(1);
  }
  fs.cpSync(SOURCE, path.join(TARGET_ROOT, 'vertex_gateway'), {
    recursive: true,
    filter: (src) => fs.statSync(src).isDirectory() || src.endsWith('.proto'),
  });
}
