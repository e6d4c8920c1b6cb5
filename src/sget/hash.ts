// Hashing for the sget store: a pass-through Transform that digests and counts what flows into the spool file, and
// a whole-file re-hash for store files whose seal no longer vouches for them.
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { digestAlgorithm, digestHex, type Digest } from '../oci/digest.ts';
import type { StreamHasher } from '../proxy/hash-thread.ts';

/** Counts and hashes the bytes passing through (on the hashing thread when the blob is big); fails (via
 * `tooMany`) as soon as more than `cap` bytes arrive. */
export class DigestingStream extends Transform {
  bytes = 0;

  constructor(
    private readonly hasher: StreamHasher,
    private readonly cap: number,
    private readonly tooMany: (seen: number) => Error,
  ) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.cap) {
      done(this.tooMany(this.bytes));
      return;
    }
    // A full hasher backlog holds this chunk (and so the upstream) until the hashing thread catches up.
    if (this.hasher.update(chunk)) done(null, chunk);
    else this.hasher.onRoom(() => done(null, chunk));
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (err) this.hasher.abandon();
    callback(err);
  }

  /** `alg:hex` of everything seen; call once, after the stream ended. */
  async result(digest: Digest): Promise<Digest> {
    return `${digestAlgorithm(digest)}:${await this.hasher.digest()}` as Digest;
  }
}

const READ_CHUNK = 1024 * 1024;

/** True when the whole file behind `fh` hashes to `digest` (positional reads: the handle stays usable). */
export async function hashFile(fh: FileHandle, digest: Digest): Promise<boolean> {
  const hash = createHash(digestAlgorithm(digest));
  const buf = Buffer.allocUnsafe(READ_CHUNK);
  for (let pos = 0; ;) {
    const { bytesRead } = await fh.read(buf, 0, READ_CHUNK, pos);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return hash.digest('hex') === digestHex(digest);
}
