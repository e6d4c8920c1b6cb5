// Writes an OCI image layout atomically: everything goes into a temporary directory next to the target, each blob is
// hashed while it is written and kept only when its size and digest are those it was asked for, every file is synced,
// and the directory is renamed into place at the end. A failure at any point removes the temporary directory: the
// target is either the whole layout or absent (or the empty directory it was).
import { randomBytes } from 'node:crypto';
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { SigwardError } from '../errors.ts';
import { digestAlgorithm, digestOf, type Digest } from '../oci/digest.ts';
import { MT } from '../oci/mediatypes.ts';
import { descriptor, type DescriptorFields } from '../sign/legacy-image.ts';
import { goArray, goNumber, goString, goStruct, utf8 } from '../sign/go-json.ts';
import { INDEX_FILE, LAYOUT_FILE, LAYOUT_VERSION, blobPath } from './layout.ts';

export class LayoutWriter {
  private readonly written = new Set<Digest>();

  private constructor(
    readonly dir: string,
    readonly tmp: string,
  ) {}

  /** Refuses a target that exists and is not an empty directory; makes the temporary directory beside it. */
  static async create(dir: string): Promise<LayoutWriter> {
    const target = resolve(dir);
    const existing = await stat(target).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw new SigwardError('CONFIG_INVALID', `cannot use --dir ${dir}: ${e.message}`);
    });
    if (existing !== undefined && (!existing.isDirectory() || (await readdir(target)).length > 0)) {
      throw new SigwardError(
        'CONFIG_INVALID',
        `--dir ${dir} exists and is not an empty directory; give a new directory (the layout is written whole or not at all)`,
      );
    }
    const tmp = join(dirname(target), `.${basename(target)}.tmp-${randomBytes(6).toString('hex')}`);
    try {
      await mkdir(tmp, { mode: 0o755 });
    } catch (e) {
      throw new SigwardError('STORE_FAILED', `cannot write next to ${dir}: ${(e as Error).message}`, { cause: e });
    }
    return new LayoutWriter(target, tmp);
  }

  has(digest: Digest): boolean {
    return this.written.has(digest);
  }

  /** A blob whose bytes are in memory (manifests): checked against `digest`, then written. */
  async writeBytes(digest: Digest, bytes: Uint8Array): Promise<void> {
    if (this.written.has(digest)) return;
    if (digestOf(bytes, digestAlgorithm(digest)) !== digest) {
      throw new SigwardError('UPSTREAM_DIGEST_MISMATCH', `bytes for ${digest} hash to ${digestOf(bytes)}; not saved`);
    }
    await this.writeFile(digest, async (write) => write(bytes));
  }

  /** A blob streamed in: hashed while written; kept only when it has `size` bytes that hash to `digest`. */
  async writeStream(
    digest: Digest,
    size: number,
    body: Readable,
    onBytes: (n: number) => void,
    where: string,
  ): Promise<void> {
    if (this.written.has(digest)) {
      body.destroy();
      return;
    }
    const hash = createHash(digestAlgorithm(digest));
    let seen = 0;
    await this.writeFile(digest, async (write) => {
      for await (const chunk of body) {
        const buf = chunk as Buffer;
        seen += buf.length;
        if (seen > size) break;
        hash.update(buf);
        await write(buf);
        onBytes(buf.length);
      }
      const got = `${digestAlgorithm(digest)}:${hash.digest('hex')}`;
      if (seen !== size || got !== digest) {
        body.destroy();
        throw new SigwardError(
          'UPSTREAM_DIGEST_MISMATCH',
          seen !== size
            ? `${where} sent ${seen > size ? 'more than' : `only ${seen} of`} the ${size} bytes of blob ${digest}; nothing was saved`
            : `${where} sent bytes for blob ${digest} that hash to ${got}; nothing was saved`,
        );
      }
    });
  }

  /** Write oci-layout and index.json, then move the layout into place. */
  async commit(entries: readonly DescriptorFields[]): Promise<void> {
    await this.writeSmall(
      join(this.tmp, LAYOUT_FILE),
      utf8(goStruct([['imageLayoutVersion', goString(LAYOUT_VERSION)]])),
    );
    const index = goStruct([
      ['schemaVersion', goNumber(2)],
      ['mediaType', goString(MT.ociIndex)],
      ['manifests', goArray(entries.map(descriptor))],
    ]);
    await this.writeSmall(join(this.tmp, INDEX_FILE), utf8(index));
    await syncDir(join(this.tmp, 'blobs', 'sha256')).catch(() => undefined);
    await syncDir(this.tmp);
    try {
      await rename(this.tmp, this.dir);
    } catch (e) {
      throw new SigwardError('STORE_FAILED', `cannot move the layout into ${this.dir}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    await syncDir(dirname(this.dir)).catch(() => undefined);
  }

  /** Remove the temporary directory (after a failure). */
  async abort(): Promise<void> {
    await rm(this.tmp, { recursive: true, force: true });
  }

  private async writeFile(digest: Digest, fill: (write: (b: Uint8Array) => Promise<void>) => Promise<void>) {
    const final = blobPath(this.tmp, digest);
    await mkdir(dirname(final), { recursive: true });
    const part = `${final}.part`;
    const fh = await open(part, 'wx', 0o644);
    try {
      await fill(async (b) => {
        await fh.write(b);
      });
      await fh.sync();
    } catch (e) {
      await fh.close();
      await rm(part, { force: true });
      throw e;
    }
    await fh.close();
    await rename(part, final);
    this.written.add(digest);
  }

  private async writeSmall(file: string, bytes: Uint8Array): Promise<void> {
    const fh = await open(file, 'wx', 0o644);
    try {
      await fh.write(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

/** fsync a directory: its entries (a rename into it) are on disk once this resolves (also state/journal.ts). */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
