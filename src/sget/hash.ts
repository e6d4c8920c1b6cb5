// Hashing for the sget store: a whole-file re-hash for store files whose seal no longer vouches for them (a
// download is hashed as it is written: spool.ts).
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { digestAlgorithm, digestHex, type Digest } from '../oci/digest.ts';

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
