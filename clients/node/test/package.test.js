'use strict';
/**
 * Offline: `npm pack` yields a tarball that works outside the repository (it carries the
 * protos), and packing leaves no copy of the protos behind. Packing happens in a copy of the
 * repository layout, so the working tree is never touched while other tests read it.
 */

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const test = require('node:test');
const assert = require('node:assert/strict');
const { protosDir } = require('..');

const PACKAGE_ROOT = path.resolve(__dirname, '..');
const REPO_PROTOS = path.resolve(PACKAGE_ROOT, '..', '..', 'protos');
const inRepo = protosDir() === REPO_PROTOS ? {} : { skip: 'not run from the repository' };

test('npm pack makes a tarball that loads every service outside the repository', inRepo, (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vg-node-pack-'));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const repo = path.join(tmp, 'repo');
  const pkgCopy = path.join(repo, 'clients', 'node');
  fs.cpSync(REPO_PROTOS, path.join(repo, 'protos'), { recursive: true });
  const manifest = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8'));
  for (const entry of [...manifest.files, 'package.json', 'scripts/']) {
    const from = path.join(PACKAGE_ROOT, entry);
    if (fs.existsSync(from) && entry !== 'protos/') {
      fs.cpSync(from, path.join(pkgCopy, entry), { recursive: true });
    }
  }

  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', tmp], {
    cwd: pkgCopy,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [packed] = JSON.parse(out);
  const files = packed.files.map((f) => f.path);
  for (const proto of fs.readdirSync(path.join(REPO_PROTOS, 'vertex_gateway', 'v1'))) {
    assert.ok(files.includes(`protos/vertex_gateway/v1/${proto}`), `${proto} not packed`);
  }
  assert.ok(files.includes('vendor/google/rpc/error_details.proto'));
  assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('node_modules/')));
  assert.ok(!fs.existsSync(path.join(pkgCopy, 'protos')), 'postpack left the protos copy');

  const installed = path.join(tmp, 'installed');
  fs.mkdirSync(installed);
  execFileSync('tar', ['xzf', path.join(tmp, packed.filename), '-C', installed]);
  const unpacked = path.join(installed, 'package');
  fs.symlinkSync(path.join(PACKAGE_ROOT, 'node_modules'), path.join(unpacked, 'node_modules'));

  // A fresh process, so nothing is reused from this one's module cache.
  const probe = `
    const client = require(${JSON.stringify(unpacked)});
    const gw = client.connect('127.0.0.1:1');
    console.log(JSON.stringify({
      protos: client.protosDir(),
      services: Object.keys(gw.raw).sort(),
      streamChat: typeof gw.chat.streamChat,
    }));
    gw.close();
  `;
  const result = JSON.parse(execFileSync(process.execPath, ['-e', probe], { encoding: 'utf8' }));
  assert.equal(result.protos, path.join(unpacked, 'protos'));
  assert.equal(result.services.length, 9);
  assert.equal(result.streamChat, 'function');
});
