// The memory of blobs listed by served manifests: bounded, repository-scoped, kept in a file across restarts
// (compacted when it grows), and still working in memory when the file cannot be written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ReferencedBlobs } from '../../src/proxy/referenced-blobs.ts';
import { createLogger } from '../../src/log.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import { tempDir } from '../helpers/proc.ts';

const log = createLogger('silent');
const d = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

test('repository-scoped, bounded by entries (least recently used out)', async () => {
  const r = new ReferencedBlobs({ entries: 3, log });
  await r.ready;
  r.add('h', 'a/b', [d(1), d(2)]);
  assert.equal(r.has('h', 'a/b', d(1)), true);
  assert.equal(r.has('h', 'a/c', d(1)), false);
  assert.equal(r.has('other', 'a/b', d(1)), false);
  r.add('h', 'a/b', [d(3), d(4)]);
  assert.equal(r.size, 3);
  assert.equal(r.has('h', 'a/b', d(2)), false, 'the least recently used went');
  assert.equal(r.has('h', 'a/b', d(4)), true);
});

test('kept across restarts; junk lines skipped; the file is compacted when it has grown', async () => {
  const dir = tempDir('refblobs');
  const file = join(dir, 'sub', 'referenced-blobs.txt');
  const a = new ReferencedBlobs({ entries: 1000, file, log, flushDelayMs: 1 });
  await a.ready;
  for (let i = 0; i < 3000; i++) a.add('h', 'r', [d(i)]);
  await a.flush();
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  assert.ok(lines.length <= 2048, `compacted to ${lines.length} lines`);
  assert.equal(lines.at(-1), `h/r@${d(2999)}`, 'newest last');
  writeFileSync(file, `${readFileSync(file, 'utf8')}not a key\nh/r@sha256:xyz\n`);
  const b = new ReferencedBlobs({ entries: 1000, file, log });
  await b.ready;
  assert.equal(b.size, 1000);
  assert.equal(b.has('h', 'r', d(2999)), true);
  assert.equal(b.has('h', 'r', d(1000)), false, 'older than what is remembered');
});

test('a file that cannot be used (a directory stands where it should be): memory only, nothing thrown', async () => {
  const file = join(tempDir('refblobs-bad'), 'referenced-blobs.txt');
  mkdirSync(file);
  const r = new ReferencedBlobs({ entries: 10, file, log });
  await r.ready;
  r.add('h', 'r', [d(1)]);
  await r.flush();
  assert.equal(r.has('h', 'r', d(1)), true);
});

test('config: blobs.serve (all by default) and blobs.entries, with line-numbered problems', () => {
  const ok = parseConfigText('upstreams: [{host: ghcr.io}]\nblobs: {serve: referenced, entries: 5000}\n');
  assert.deepEqual(ok.config?.blobs, { serve: 'referenced', entries: 5000 });
  assert.deepEqual(parseConfigText('upstreams: [{host: ghcr.io}]\n').config?.blobs, { serve: 'all', entries: 200_000 });
  const bad = parseConfigText('upstreams: [{host: ghcr.io}]\nblobs:\n  serve: some\n  entries: 5\n  keep: 1\n');
  assert.deepEqual(bad.problems.map((p) => `${p.line}:${p.path}`).sort(), [
    '3:blobs.serve',
    '4:blobs.entries',
    '5:blobs.keep',
  ]);
});
