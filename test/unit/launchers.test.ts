// The shipped launchers (package.json's start script, the systemd unit, the Dockerfile) and the benchmark's daemon all
// start node with the same memory flags and environment (README: "Memory and blob throughput"), and the node running
// the tests accepts those flags and applies them. The throughput they buy is a benchmark figure, not a test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { DAEMON_ENV, DAEMON_NODE_ARGS } from '../../bench/sigward.ts';

const ROOT = new URL('../../', import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, ROOT), 'utf8');

/** The words between the node binary and the script in a command line. */
function nodeFlags(words: readonly string[], script: string): string[] {
  const node = words.findIndex((w) => w === 'node' || w.endsWith('/node'));
  const at = words.findIndex((w) => w.endsWith(script));
  assert.ok(node >= 0 && at > node, `no "node … ${script}" in: ${words.join(' ')}`);
  return words.slice(node + 1, at);
}

test('the benchmark daemon carries the flags the README names', () => {
  const readme = read('README.md');
  for (const flag of DAEMON_NODE_ARGS) assert.ok(readme.includes(flag), `README does not name ${flag}`);
  for (const [k, v] of Object.entries(DAEMON_ENV)) assert.ok(readme.includes(`${k}=${v}`), `README lacks ${k}=${v}`);
});

test("package.json's start script starts node with the daemon's flags and environment", () => {
  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
  const start = pkg.scripts.start ?? '';
  const cmd =
    start
      .split('&&')
      .map((s) => s.trim())
      .find((s) => s.includes('bin/sigward.mjs')) ?? '';
  const words = cmd.split(/\s+/);
  assert.deepEqual(nodeFlags(words, 'bin/sigward.mjs'), DAEMON_NODE_ARGS);
  for (const [k, v] of Object.entries(DAEMON_ENV)) assert.ok(words.includes(`${k}=${v}`), `start lacks ${k}=${v}`);
});

test("the systemd unit's ExecStart and Environment match", () => {
  const unit = read('systemd/sigward.service').split('\n');
  const exec = unit.find((l) => l.startsWith('ExecStart='));
  assert.ok(exec, 'no ExecStart= line');
  assert.deepEqual(nodeFlags(exec.slice('ExecStart='.length).split(/\s+/), 'bin/sigward.mjs'), DAEMON_NODE_ARGS);
  for (const [k, v] of Object.entries(DAEMON_ENV)) assert.ok(unit.includes(`Environment=${k}=${v}`), `unit lacks ${k}`);
});

test("the Dockerfile's ENTRYPOINT and ENV match", () => {
  const lines = read('Dockerfile').split('\n');
  const entry = lines.find((l) => l.startsWith('ENTRYPOINT '));
  assert.ok(entry, 'no ENTRYPOINT line');
  const words = JSON.parse(entry.slice('ENTRYPOINT '.length)) as string[];
  assert.deepEqual(nodeFlags(words, 'bin/sigward.mjs'), DAEMON_NODE_ARGS);
  for (const [k, v] of Object.entries(DAEMON_ENV)) assert.ok(lines.includes(`ENV ${k}=${v}`), `Dockerfile lacks ${k}`);
});

test('this node accepts the flags, and the young generation stays at two 1 MiB semi-spaces under churn', () => {
  // Short-lived objects by the million: without the cap node 22/24 grow the young generation to tens of MiB.
  const probe =
    "const v8 = require('node:v8'); let keep = [];" +
    ' for (let i = 0; i < 3e6; i++) { keep.push({ i }); if (keep.length > 2e5) keep = []; }' +
    " process.stdout.write(String(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size));";
  const size = (flags: readonly string[]): number =>
    Number(execFileSync(process.execPath, [...flags, '-e', probe], { encoding: 'utf8' }));
  const withFlags = size(DAEMON_NODE_ARGS);
  assert.ok(withFlags <= 2 * 1024 * 1024, `new space ${withFlags} bytes with the flags`);
  // The same churn without them: the check above can tell the difference.
  assert.ok(size([]) > 2 * 1024 * 1024, 'the probe does not grow the young generation without the flags');
});
