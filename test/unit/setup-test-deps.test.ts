// scripts/setup-test-deps.sh works on a fresh machine as root (no sudo there) or not (through sudo), and the README's
// test command is one line without sudo. The script runs against stubs first on PATH: dpkg-query reports every
// package missing, id gives the uid under test, and apt-get, sudo, tee and chmod only record how they were called
// (PATH holds nothing else but grep).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

function runAs(uid: number, withSudo: boolean): { status: number; calls: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'sigward-setup-'));
  try {
    const log = join(dir, 'calls.log');
    const stub = (name: string, body: string): void => {
      writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(dir, name), 0o755);
    };
    for (const name of ['apt-get', 'tee', 'chmod']) stub(name, `echo "${name} $*" >> "${log}"`);
    if (withSudo) stub('sudo', `echo "sudo $*" >> "${log}"`);
    stub('dpkg-query', 'exit 1');
    stub('id', `echo ${uid}`);
    // PATH is the stub directory alone (a real sudo or apt-get is never reachable); grep is the one real tool.
    const grep = ['/usr/bin/grep', '/bin/grep'].find((p) => existsSync(p));
    assert.ok(grep, 'grep');
    symlinkSync(grep, join(dir, 'grep'));
    let status = 0;
    try {
      execFileSync('/bin/bash', [join(ROOT, 'scripts/setup-test-deps.sh')], {
        env: { PATH: dir },
        stdio: ['ignore', 'ignore', 'ignore'],
      });
    } catch (e) {
      status = (e as { status: number }).status;
    }
    let calls: string[] = [];
    try {
      calls = readFileSync(log, 'utf8').trim().split('\n');
    } catch {
      /* nothing called */
    }
    return { status, calls };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('as root: apt-get runs directly, sudo is never called', () => {
  const r = runAs(0, false);
  assert.equal(r.status, 0);
  assert.ok(
    r.calls.some((c) => c.startsWith('apt-get install')),
    r.calls.join('\n'),
  );
  assert.ok(!r.calls.some((c) => c.startsWith('sudo')), r.calls.join('\n'));
});

test('not root: apt-get runs through sudo', () => {
  const r = runAs(1000, true);
  assert.equal(r.status, 0);
  assert.ok(
    r.calls.some((c) => /^sudo (DEBIAN_FRONTEND=\S+ )?apt-get install/.test(c)),
    r.calls.join('\n'),
  );
  assert.ok(!r.calls.some((c) => c.startsWith('apt-get')), 'never without sudo');
});

test('not root and no sudo: a clear failure before anything runs', () => {
  const r = runAs(1000, false);
  assert.notEqual(r.status, 0);
  assert.deepEqual(r.calls, []);
});

test("the README's test command is one line that needs no sudo", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  assert.ok(!/sudo bash scripts\/setup-test-deps\.sh/.test(readme), 'no sudo in front of the setup script');
  assert.match(readme, /^\$ bash scripts\/setup-test-deps\.sh && npm test\b/m);
});
