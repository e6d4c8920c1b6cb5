// `sigward audit verify` (src/main.ts in process; the good chain as a person runs it, bin/sigward.mjs): a good chain
// across rotated files, and the exact line reported for a changed line, a removed line and a swapped pair; usage
// errors exit 2.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLog } from '../../src/audit/log.ts';
import { sigwardCli, sigwardInProcess } from '../helpers/cli-process.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';

describe('sigward audit verify', () => {
  let dir: string;
  let file: string;
  let lines: string[];

  before(() => {
    dir = tempDir('audit-cli');
    file = join(dir, 'audit.log');
    let t = Date.UTC(2026, 0, 1);
    const log = AuditLog.open({ file, maxBytes: 64 * 1024, keep: 5, now: () => (t += 1000) });
    for (let i = 0; i < 6; i++) {
      log.record({
        policyHash: 'cd'.repeat(32),
        image: `example.test/apps/app${i}:v1@sha256:${'e'.repeat(64)}`,
        digest: `sha256:${'e'.repeat(64)}`,
        outcome: i % 2 === 0 ? 'verified' : 'no-signatures',
        allow: i % 2 === 0,
        wouldDeny: false,
        policy: 'apps',
        signers: i % 2 === 0 ? ['alice'] : [],
        reasons: [],
      });
    }
    log.close();
    lines = readFileSync(file, 'utf8').split(/(?<=\n)/);
  });
  after(() => removeTempDir(dir));

  const variant = (name: string, ls: string[]): string => {
    const p = join(dir, name);
    writeFileSync(p, ls.join(''));
    return p;
  };

  test('a good chain: ok, its line count and seq range, exit 0', async () => {
    const r = await sigwardCli(['audit', 'verify', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'ok: 6 lines, chain intact (first seq 0, last seq 5)');
  });

  test('the chain across rotated files, oldest first', async () => {
    const rot = join(dir, 'rot');
    mkdirSync(rot);
    const log = AuditLog.open({ file: join(rot, 'a.log'), maxBytes: 64 * 1024, keep: 2, now: () => 0 });
    // Lines of ~900 bytes (a long image name) in files of 64 KiB: four files written, the oldest dropped (keep 2).
    for (let i = 0; i < 200; i++) {
      log.record({
        policyHash: 'cd'.repeat(32),
        image: `example.test/${'x'.repeat(500)}${i}@sha256:${'e'.repeat(64)}`,
        digest: `sha256:${'e'.repeat(64)}`,
        outcome: 'verified',
        allow: true,
        wouldDeny: false,
        policy: 'apps',
        signers: ['alice'],
        reasons: [],
      });
    }
    log.close();
    assert.deepEqual(readdirSync(rot).sort(), ['a.log', 'a.log.1', 'a.log.2']);
    const ordered = ['a.log.2', 'a.log.1', 'a.log'].map((n) => join(rot, n));
    const r = await sigwardInProcess(['audit', 'verify', ...ordered]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^ok: \d+ lines, chain intact \(first seq \d+, last seq 199\)\n$/);
    // Without the middle file: the first line of the newest is a seq gap.
    const gap = await sigwardInProcess(['audit', 'verify', join(rot, 'a.log.2'), join(rot, 'a.log')]);
    assert.equal(gap.code, 1);
    assert.match(gap.stdout, new RegExp(`^${join(rot, 'a.log')}:1: seq gap`));
  });

  test('one character changed in the middle of line 3 (still JSON): line 4 is reported, prev mismatch', async () => {
    const ls = [...lines];
    const l = ls[2] ?? '';
    const at = l.indexOf('app2') + 3;
    ls[2] = `${l.slice(0, at)}X${l.slice(at + 1)}`;
    const p = variant('tampered.log', ls);
    const r = await sigwardInProcess(['audit', 'verify', p]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`^${p}:4: prev mismatch`));
  });

  test('a changed line that no longer parses is reported itself, bad JSON', async () => {
    const ls = [...lines];
    ls[2] = (ls[2] ?? '').replace('"allow":', '"allow"');
    const p = variant('broken.log', ls);
    const r = await sigwardInProcess(['audit', 'verify', p]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`^${p}:3: bad JSON`));
  });

  test('a deleted line: the line that moved up is a seq gap', async () => {
    const p = variant('deleted.log', [...lines.slice(0, 2), ...lines.slice(3)]);
    const r = await sigwardInProcess(['audit', 'verify', p]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`^${p}:3: seq gap: seq 3 where 2 was expected`));
  });

  test('a swapped pair: the first of them is a seq gap', async () => {
    const ls = [...lines];
    [ls[3], ls[4]] = [ls[4] ?? '', ls[3] ?? ''];
    const p = variant('swapped.log', ls);
    const r = await sigwardInProcess(['audit', 'verify', p]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`^${p}:4: seq gap: seq 4 where 3 was expected`));
  });

  test('usage errors exit 2; --help exits 0', async () => {
    for (const args of [
      ['audit'],
      ['audit', 'verify'],
      ['audit', 'check', file],
      ['audit', 'verify', join(dir, 'none')],
    ]) {
      const r = await sigwardInProcess(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^sigward audit: /);
    }
    const h = await sigwardInProcess(['audit', '--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /usage: sigward audit verify FILE/);
  });
});
