// The spool on its own, with a real store directory and the real hashing thread: a big download that fails before
// its digest was asked for (the upstream ends early, cleanly) leaves no temporary file and no stream open on the
// hashing thread; a good one is committed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createLogger } from '../../src/log.ts';
import type { Digest } from '../../src/oci/digest.ts';
import { HashThread, OFF_THREAD_MIN_BYTES } from '../../src/proxy/hash-thread.ts';
import { spool } from '../../src/sget/spool.ts';
import { BlobStore } from '../../src/sget/store.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';

const log = createLogger('silent');
let dir: string;
let store: BlobStore;
const hashing = new HashThread();

before(async () => {
  dir = tempDir('sget-spool');
  store = new BlobStore({ dir: join(dir, 'sget'), capacity: 64 * 1024 * 1024, log });
  await store.ready();
});
after(async () => {
  await hashing.close();
  // Files still being made durable (fsync, rename, seal) would be written into the directory as it is removed.
  await store.flush();
  removeTempDir(dir);
});

/** An upstream answer whose body is `data`, in 64 KiB chunks, ending cleanly. */
const answer = (data: Buffer, size?: number) => async () => ({
  status: 200 as const,
  headers: {},
  ...(size === undefined ? {} : { size }),
  body: Readable.from(
    (function* () {
      for (let at = 0; at < data.length; at += 65536) yield data.subarray(at, at + 65536);
    })(),
  ),
});

test('a big download that ends short is refused, leaves no file and no open stream on the hashing thread', async () => {
  const data = randomBytes(OFF_THREAD_MIN_BYTES + 1024 * 1024);
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
  const short = data.subarray(0, data.length - 100_000);
  await assert.rejects(
    spool(
      store,
      { digest, size: data.length, maxBytes: 64 * 1024 * 1024, where: 'r.test/files', fetch: answer(short), hashing },
      log,
    ),
    /sent \d+ of the \d+ bytes .* and stopped; nothing was served/,
  );
  assert.equal(hashing.openStreams, 0);
  assert.deepEqual(readdirSync(join(dir, 'sget', 'tmp')), []);
  assert.equal(store.has(digest), false);

  await spool(
    store,
    {
      digest,
      size: data.length,
      maxBytes: 64 * 1024 * 1024,
      where: 'r.test/files',
      fetch: answer(data, data.length),
      hashing,
    },
    log,
  );
  assert.equal(store.has(digest), true);
  assert.equal(hashing.openStreams, 0);
});
