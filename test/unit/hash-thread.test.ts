// The hashing worker behind sget's spool (HashThread.batchHasher), with the spool's own batch shape: batches are
// transferred to the worker, hashed in order and handed back intact for reuse; the digest equals hashing inline;
// several streams keep their own state; a worker that is stopped or dies fails every open digest (never a digest)
// and the next stream gets a new worker; an abandoned stream gets no batch back and leaves nothing open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { HashThread, type BatchHasher } from '../../src/proxy/hash-thread.ts';
import { BATCH_BYTES, BATCHES } from '../../src/sget/spool.ts';
import { must } from '../helpers/must.ts';

/** A stuck digest fails its test instead of hanging the run. */
const LIMIT = { timeout: 30_000 };

/** A fresh hashing thread for one test, always stopped. */
function withThread(fn: (thread: HashThread) => Promise<void>): () => Promise<void> {
  return async () => {
    const thread = new HashThread();
    try {
      await fn(thread);
    } finally {
      await thread.close();
    }
  };
}

/** What a crash looks like from outside: the worker is gone without close(). */
async function crash(thread: HashThread): Promise<void> {
  await (thread as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
}

const hex = (alg: 'sha256' | 'sha512', data: Buffer): string => createHash(alg).update(data).digest('hex');

/** Pass `data` through `h` in batches of `size` bytes from a pool of `pool` buffers, waiting for one to come back
 * whenever all are out, as sget's spool does. Checks that each batch is transferred (not copied) and that each comes
 * back to its own callback, in order, with its bytes intact; returns how many came back before the last was taken. */
async function feedBatches(h: BatchHasher, data: Buffer, size: number, pool: number): Promise<number> {
  const free: ArrayBuffer[] = Array.from({ length: pool }, () => new ArrayBuffer(size));
  let waiting: (() => void) | undefined;
  let back = 0;
  let taken = 0;
  for (let at = 0; at < data.length; at += size) {
    while (free.length === 0) await new Promise<void>((resolve) => (waiting = resolve));
    const ab = must(free.pop(), 'a free batch');
    const n = data.copy(Buffer.from(ab), 0, at, Math.min(at + size, data.length));
    const index = taken++;
    const sent = data.subarray(at, at + n);
    h.take(ab, n, (returned) => {
      assert.equal(back, index, 'batches come back in the order they were taken');
      assert.equal(returned.byteLength, size);
      assert.ok(Buffer.from(returned, 0, n).equals(sent), `batch ${index} came back with its own bytes`);
      back++;
      free.push(returned);
      waiting?.();
    });
    assert.equal(ab.byteLength, 0, 'the batch is transferred, not copied');
  }
  return back;
}

test(
  'the digest equals hashing inline (sha256 and sha512) for any batch size, a partial last batch and an empty stream',
  LIMIT,
  withThread(async (thread) => {
    const data = randomBytes(3 * BATCH_BYTES + 12_345);
    for (const alg of ['sha256', 'sha512'] as const) {
      for (const size of [65_536, 1_000_003, BATCH_BYTES]) {
        const h = thread.batchHasher(alg);
        await feedBatches(h, data, size, BATCHES);
        assert.equal(await h.digest(), hex(alg, data), `${alg}, batches of ${size}`);
      }
      // Tiny batches, over a prefix: every one a round trip.
      const part = data.subarray(0, 20_000);
      const tiny = thread.batchHasher(alg);
      await feedBatches(tiny, part, 7, 2);
      assert.equal(await tiny.digest(), hex(alg, part), `${alg}, batches of 7`);
    }
    // An empty download of unknown size never takes a batch: the empty digest.
    assert.equal(await thread.batchHasher('sha256').digest(), createHash('sha256').digest('hex'));
  }),
);

test(
  "the spool's pool of batches is enough: each is handed back for reuse, and nothing stays open after the digest",
  LIMIT,
  withThread(async (thread) => {
    const data = randomBytes(12 * BATCH_BYTES + 12_345);
    const h = thread.batchHasher('sha256');
    const backBeforeDigest = await feedBatches(h, data, BATCH_BYTES, BATCHES);
    const batches = Math.ceil(data.length / BATCH_BYTES);
    assert.ok(backBeforeDigest >= batches - BATCHES, `the pool of ${BATCHES} was reused (${backBeforeDigest} back)`);
    assert.equal(thread.openStreams, 1, 'the stream is open until its digest is delivered');
    assert.equal(await h.digest(), hex('sha256', data));
    assert.equal(thread.openStreams, 0);
  }),
);

test(
  'several streams at once keep their own state',
  LIMIT,
  withThread(async (thread) => {
    const blobs = [0, 1, 2, 3].map((i) => randomBytes(2 * BATCH_BYTES + 1000 * i + 1));
    const hashers = blobs.map(() => thread.batchHasher('sha256'));
    assert.equal(thread.openStreams, blobs.length);
    await Promise.all(blobs.map((b, i) => feedBatches(must(hashers[i], 'a hasher'), b, 40_000 + i * 777, 2)));
    const got = await Promise.all(hashers.map((h) => h.digest()));
    assert.deepEqual(
      got,
      blobs.map((b) => hex('sha256', b)),
    );
    assert.equal(thread.openStreams, 0);
  }),
);

test(
  'close() fails every open digest (never a digest), and the next stream gets a new worker',
  LIMIT,
  withThread(async (thread) => {
    const asked = thread.batchHasher('sha256');
    asked.take(new ArrayBuffer(BATCH_BYTES), BATCH_BYTES, () => undefined);
    const failed = assert.rejects(asked.digest(), /hashing thread was stopped \(shutdown\)/);
    const notAsked = thread.batchHasher('sha256');
    const told = new Promise<Error>((resolve) => notAsked.onFail(resolve));
    notAsked.take(new ArrayBuffer(1024), 1024, () => undefined);
    await thread.close(); // the worker goes away while a digest is outstanding
    await failed;
    assert.match((await told).message, /hashing thread was stopped/);
    await assert.rejects(notAsked.digest(), /hashing thread was stopped/);
    assert.equal(thread.openStreams, 0);

    const data = randomBytes(2 * BATCH_BYTES + 5);
    const again = thread.batchHasher('sha256');
    await feedBatches(again, data, BATCH_BYTES, BATCHES);
    assert.equal(await again.digest(), hex('sha256', data));
  }),
);

test(
  'a worker that exits on its own (crash) fails the outstanding digest saying so, and the next stream gets a new worker',
  LIMIT,
  withThread(async (thread) => {
    const h = thread.batchHasher('sha256');
    h.take(new ArrayBuffer(BATCH_BYTES), BATCH_BYTES, () => undefined);
    const failed = assert.rejects(
      h.digest(),
      /the hashing thread failed \(exit code \d+\).*nothing unchecked was served/,
    );
    await crash(thread);
    await failed;
    assert.equal(thread.openStreams, 0);

    const data = randomBytes(BATCH_BYTES + 77);
    const again = thread.batchHasher('sha512');
    await feedBatches(again, data, BATCH_BYTES, BATCHES);
    assert.equal(await again.digest(), hex('sha512', data));
  }),
);

test(
  'a worker that dies tells the caller (its batches will not come back) and never yields a digest',
  LIMIT,
  withThread(async (thread) => {
    const h = thread.batchHasher('sha256');
    const told = new Promise<Error>((resolve) => h.onFail(resolve));
    h.take(new ArrayBuffer(1024), 1024, () => assert.fail('a batch came back from a dead worker'));
    await crash(thread);
    assert.match((await told).message, /the hashing thread failed \(exit code \d+\)/);
    await assert.rejects(h.digest(), /the hashing thread failed/);
  }),
);

test(
  'an abandoned stream gets no batch back, no digest, and leaves nothing open',
  LIMIT,
  withThread(async (thread) => {
    const h = thread.batchHasher('sha256');
    let cameBack = 0;
    h.take(new ArrayBuffer(BATCH_BYTES), BATCH_BYTES, () => cameBack++);
    h.abandon();
    assert.equal(thread.openStreams, 0);
    await assert.rejects(h.digest(), /hash abandoned/);
    // The worker answers in order: once a later stream's digest is back, the abandoned batch was hashed and acked.
    const data = randomBytes(1000);
    const later = thread.batchHasher('sha256');
    await feedBatches(later, data, 1000, 1);
    assert.equal(await later.digest(), hex('sha256', data));
    assert.equal(cameBack, 0, 'a batch of the abandoned stream was handed back');
  }),
);
