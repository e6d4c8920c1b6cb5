// sget's spool writer keeps WRITES writes in flight, each at its own file offset, and still hashes the bytes in file
// order when the writes finish out of order. The file handle is a stand-in that holds every write until the test
// lets it finish (last issued first), so the order of completion is the test's, not the disk's.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FileHandle } from 'node:fs/promises';
import { HashThread } from '../../src/proxy/hash-thread.ts';
import { BATCH_BYTES, SpoolWriter, WRITES } from '../../src/sget/spool.ts';

const hashing = new HashThread();
after(() => hashing.close());

/** A FileHandle's positional write only: records what lands where, holds each write until released. */
function heldFile(expectedWrites: number) {
  const file: { at: number; bytes: Buffer }[] = [];
  const held: (() => void)[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let issued = 0;
  const fh = {
    write(buf: Buffer, offset: number, length: number, position: number) {
      issued++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return new Promise<{ bytesWritten: number; buffer: Buffer }>((resolve) => {
        held.push(() => {
          // Copied when the write completes: the writer must not have reused the batch before then.
          file.push({ at: position, bytes: Buffer.from(buf.subarray(offset, offset + length)) });
          inFlight--;
          resolve({ bytesWritten: length, buffer: buf });
        });
        // A full group (or the last writes) is let through, the last one issued first, once the writer has taken
        // the promise of the write it just issued (a microtask later).
        if (held.length === WRITES || issued === expectedWrites) {
          const group = held.splice(0).reverse();
          queueMicrotask(() => {
            for (const go of group) go();
          });
        }
      });
    },
  };
  return { fh: fh as unknown as FileHandle, file, maxInFlight: () => maxInFlight };
}

const chunks = (data: Buffer): Readable =>
  Readable.from(
    (function* () {
      for (let at = 0; at < data.length; at += 65536) yield data.subarray(at, at + 65536);
    })(),
  );

test(
  'writes go out WRITES at a time at their own offsets; finished out of order, the file and the digest are right',
  { timeout: 30_000 },
  async () => {
    assert.ok(WRITES > 1, 'the writer keeps more than one write in flight');
    const data = randomBytes(12 * BATCH_BYTES + 12_345);
    const writes = Math.ceil(data.length / BATCH_BYTES);
    const f = heldFile(writes);
    const batches = hashing.batchHasher('sha256');
    const writer = new SpoolWriter(chunks(data), f.fh, data.length, undefined, batches);
    const outcome = await writer.done;
    assert.deepEqual(outcome, { kind: 'ok' });
    assert.equal(writer.received, data.length);
    assert.equal(f.maxInFlight(), WRITES);
    assert.equal(f.file.length, writes);
    // Completion order was not file order, and each write landed at its own offset.
    assert.notDeepEqual(
      f.file.map((w) => w.at),
      [...f.file.map((w) => w.at)].sort((a, b) => a - b),
    );
    const rebuilt = Buffer.alloc(data.length);
    for (const w of f.file) w.bytes.copy(rebuilt, w.at);
    assert.ok(rebuilt.equals(data), 'the file holds the body, byte for byte');
    assert.equal(await batches.digest(), createHash('sha256').update(data).digest('hex'));
  },
);

test('a small body hashed inline is written whole and its batches reused', { timeout: 30_000 }, async () => {
  const data = randomBytes(3 * BATCH_BYTES + 7);
  const writes = Math.ceil(data.length / BATCH_BYTES);
  const f = heldFile(writes);
  const hash = createHash('sha256');
  const writer = new SpoolWriter(chunks(data), f.fh, data.length, hash, undefined);
  assert.deepEqual(await writer.done, { kind: 'ok' });
  const rebuilt = Buffer.alloc(data.length);
  for (const w of f.file) w.bytes.copy(rebuilt, w.at);
  assert.ok(rebuilt.equals(data));
  assert.equal(hash.digest('hex'), createHash('sha256').update(data).digest('hex'));
});
