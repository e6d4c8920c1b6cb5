// The sget store's flush() (graceful shutdown, tests) also waits for the removals it started: a file evicted or
// dropped is unlinked in the background, and once flush() resolved neither it nor its seal is left on disk.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../src/log.ts';
import type { Digest } from '../../src/oci/digest.ts';
import { BlobStore } from '../../src/sget/store.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';

const dir = tempDir('sget-store-flush');
after(() => removeTempDir(dir));

async function put(store: BlobStore, bytes: Buffer): Promise<Digest> {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;
  const tmp = store.tempFile();
  writeFileSync(tmp, bytes);
  chmodSync(tmp, 0o400);
  await store.commit(tmp, digest, bytes.length);
  return digest;
}

test('an evicted file and its seal are gone from disk once flush() resolved, not after', async () => {
  const store = new BlobStore({ dir: join(dir, 'store'), capacity: 300_000, log: createLogger('silent') });
  await store.ready();
  const first = await put(store, randomBytes(200_000));
  await store.flush(); // durable and sealed in blobs/
  const file = store.fileOf(first);
  assert.ok(existsSync(file) && existsSync(`${file}.seal`));
  const events: string[] = [];
  const remove = store.durable.remove;
  store.durable.remove = async (f) => {
    await remove(f);
    events.push(`removed ${f === file ? 'file' : 'seal'}`);
  };
  // No room for both: the least recently used goes, at once (reserve evicts before its first await), and flush() is
  // asked before the removal had a turn to finish.
  const reserving = store.reserve(200_000);
  assert.equal(store.has(first), false);
  await store.flush().then(() => events.push('flushed'));
  const release = await reserving;
  assert.deepEqual([...events].sort(), ['flushed', 'removed file', 'removed seal']);
  assert.equal(events.at(-1), 'flushed', `flush() resolved before the removals: ${events.join(', ')}`);
  assert.equal(existsSync(file), false);
  assert.equal(existsSync(`${file}.seal`), false);
  release();
});
