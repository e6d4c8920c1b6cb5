// Hashing for the sget store: a pass-through Transform that digests and counts what flows into the spool file, and
// a whole-file re-hash for store files whose seal no longer vouches for them.
import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { digestAlgorithm, digestHex, type Digest } from '../oci/digest.ts';

/** Counts and hashes the bytes passing through; fails (via `tooMany`) as soon as more than `cap` bytes arrive. */
export class DigestingStream extends Transform {
  readonly hash: Hash;
  bytes = 0;

  constructor(
    digest: Digest,
    private readonly cap: number,
    private readonly tooMany: (seen: number) => Error,
  ) {
    super({ highWaterMark: 1024 * 1024 });
    this.hash = createHash(digestAlgorithm(digest));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.cap) {
      done(this.tooMany(this.bytes));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }

  /** `alg:hex` of everything seen; call once, after the stream ended. */
  result(digest: Digest): Digest {
    return `${digestAlgorithm(digest)}:${this.hash.digest('hex')}` as Digest;
  }
}

const READ_CHUNK = 1024 * 1024;

/** True when the whole file behind `fh` hashes to `digest` (positional reads: the handle stays usable). */
export async function hashFile(fh: FileHandle, digest: Digest): Promise<boolean> {
  const hash = createHash(digestAlgorithm(digest));
  const buf = Buffer.allocUnsafe(READ_CHUNK);
  for (let pos = 0; ; ) {
    const { bytesRead } = await fh.read(buf, 0, READ_CHUNK, pos);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return hash.digest('hex') === digestHex(digest);
}
