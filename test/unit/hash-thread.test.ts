// The off-thread hasher: the same digest as hashing inline whatever the chunking, a bounded backlog (the caller is
// told to pause and later to resume), and a failed worker never yielding a digest; the same for the batch hasher
// (sget's spool), whose batches are transferred and handed back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  BATCH_BYTES,
  BATCHES,
  HashThread,
  OFF_THREAD_MIN_BYTES,
  type BatchHasher,
  type StreamHasher,
} from '../../src/proxy/hash-thread.ts';
import { at, must } from '../helpers/must.ts';

/** Feed `data` in chunks of the given sizes (cycled), pausing whenever the hasher says so, as a stream would. */
async function feed(h: StreamHasher, data: Buffer, sizes: number[]): Promise<{ pauses: number }> {
  let pauses = 0;
  let room: (() => void) | undefined;
  h.onRoom(() => room?.());
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = Math.min(must(sizes[i % sizes.length], 'chunk size'), data.length - at);
    if (!h.update(data.subarray(at, at + n))) {
      pauses++;
      await new Promise<void>((resolve) => (room = resolve));
    }
    at += n;
  }
  return { pauses };
}

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

test(
  'off-thread digests equal inline sha256/sha512 for any chunking, across batch boundaries',
  withThread(async (thread) => {
    const data = randomBytes(OFF_THREAD_MIN_BYTES + 3 * BATCH_BYTES + 12345);
    for (const sizes of [[1], [65536], [BATCH_BYTES + 1], [3 * BATCH_BYTES], [7, 100_000, 1_000_003], [data.length]]) {
      if (sizes[0] === 1) {
        // byte by byte over a smaller prefix (still off-thread: the expected size decides)
        const h = thread.hasher('sha256', data.length);
        const part = data.subarray(0, 20_000);
        await feed(h, part, sizes);
        assert.equal(await h.digest(), createHash('sha256').update(part).digest('hex'));
        continue;
      }
      for (const alg of ['sha256', 'sha512'] as const) {
        const h = thread.hasher(alg, data.length);
        await feed(h, data, sizes);
        assert.equal(await h.digest(), createHash(alg).update(data).digest('hex'), `${alg} chunks ${sizes.join(',')}`);
      }
    }
    // An empty stream has the empty digest.
    const empty = thread.hasher('sha256', OFF_THREAD_MIN_BYTES);
    assert.equal(await empty.digest(), createHash('sha256').digest('hex'));
  }),
);

test(
  'the backlog is bounded: a big chunk makes the caller pause, and room comes back',
  withThread(async (thread) => {
    const data = randomBytes(Math.max(OFF_THREAD_MIN_BYTES, (BATCHES + 3) * BATCH_BYTES));
    const h = thread.hasher('sha256', data.length);
    // More than every batch can hold at once: update must answer false (pause) at least once.
    const { pauses } = await feed(h, data, [(BATCHES + 1) * BATCH_BYTES]);
    assert.ok(pauses >= 1, `paused ${pauses} times`);
    assert.equal(await h.digest(), createHash('sha256').update(data).digest('hex'));
  }),
);

test(
  'several streams at once keep their own state',
  withThread(async (thread) => {
    const blobs = [0, 1, 2, 3].map(() => randomBytes(OFF_THREAD_MIN_BYTES + Math.floor(Math.random() * BATCH_BYTES)));
    const hashers = blobs.map((b) => thread.hasher('sha256', b.length));
    await Promise.all(blobs.map((b, i) => feed(at(hashers, i), b, [40_000 + i * 777])));
    const got = await Promise.all(hashers.map((h) => h.digest()));
    assert.deepEqual(
      got,
      blobs.map((b) => createHash('sha256').update(b).digest('hex')),
    );
  }),
);

test('small and unknown sizes are hashed inline (no worker needed)', async () => {
  const thread = new HashThread();
  const data = randomBytes(1000);
  for (const size of [undefined, 1000]) {
    const h = thread.hasher('sha256', size);
    assert.equal(h.update(data), true);
    assert.equal(await h.digest(), createHash('sha256').update(data).digest('hex'));
  }
  await thread.close();
});

test(
  'a worker that dies fails every open digest (never a digest), and the next stream gets a new worker',
  withThread(async (thread) => {
    const data = randomBytes(OFF_THREAD_MIN_BYTES);
    const h = thread.hasher('sha256', data.length);
    h.update(data.subarray(0, BATCH_BYTES + 10));
    const failed = assert.rejects(h.digest(), /hashing thread was stopped/);
    await thread.close(); // the worker goes away while a digest is outstanding
    await failed;
    const again = thread.hasher('sha256', data.length);
    await feed(again, data, [100_000]);
    assert.equal(await again.digest(), createHash('sha256').update(data).digest('hex'));
  }),
);

test(
  'a worker that exits on its own (crash) fails the open digest with a message saying so',
  withThread(async (thread) => {
    const data = randomBytes(OFF_THREAD_MIN_BYTES);
    const h = thread.hasher('sha256', data.length);
    h.update(data.subarray(0, 2 * BATCH_BYTES));
    const failed = assert.rejects(
      h.digest(),
      /the hashing thread failed \(exit code \d+\).*nothing unchecked was served/,
    );
    // What a crash looks like from outside: the thread is gone without close().
    await (thread as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await failed;
  }),
);

/** Pass `data` through `h` in batches of `size` bytes from a pool of `pool` buffers, waiting for one to come back
 * whenever all are out, as sget's spool does; returns how many were handed back. */
async function feedBatches(h: BatchHasher, data: Buffer, size: number, pool: number): Promise<number> {
  const free: ArrayBuffer[] = Array.from({ length: pool }, () => new ArrayBuffer(size));
  let waiting: (() => void) | undefined;
  let back = 0;
  for (let at = 0; at < data.length; at += size) {
    while (free.length === 0) await new Promise<void>((resolve) => (waiting = resolve));
    const ab = must(free.pop(), 'a free batch');
    const n = data.copy(Buffer.from(ab), 0, at, Math.min(at + size, data.length));
    h.take(ab, n, (returned) => {
      back++;
      assert.equal(returned.byteLength, size);
      free.push(returned);
      waiting?.();
    });
    assert.equal(ab.byteLength, 0, 'the batch is transferred, not copied');
  }
  return back;
}

test(
  'batches: the same digest as hashing inline, every batch handed back, a bounded pool enough',
  withThread(async (thread) => {
    const data = randomBytes(3 * 1024 * 1024 + 12_345);
    const h = thread.batchHasher('sha256');
    const backBeforeDigest = await feedBatches(h, data, 256_000, 2);
    assert.ok(backBeforeDigest >= Math.ceil(data.length / 256_000) - 2, 'the pool of two was reused');
    assert.equal(await h.digest(), createHash('sha256').update(data).digest('hex'));
    assert.equal(thread.openStreams, 0);
  }),
);

test(
  'batches: a worker that dies tells the caller (its batches will not come back) and never yields a digest',
  withThread(async (thread) => {
    const h = thread.batchHasher('sha256');
    const told = new Promise<Error>((resolve) => h.onFail(resolve));
    h.take(new ArrayBuffer(1024), 1024, () => assert.fail('a batch came back from a dead worker'));
    await (thread as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    assert.match((await told).message, /the hashing thread failed \(exit code \d+\)/);
    await assert.rejects(h.digest(), /the hashing thread failed/);
  }),
);
