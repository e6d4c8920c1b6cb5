// The /v2/ blob cache of upstreams with `blobs: cache`, in the same store as sget's verified downloads (one store, one
// bound: sget.storeSize, one eviction order). A relayed whole blob is copied into a temporary file of the store while
// it streams to the client, and renamed in (then made durable and sealed) only once its size and digest checked out;
// any failure, or the client leaving, removes the copy. Warm requests are answered from the sealed file (a file whose
// seal no longer vouches for it is re-hashed first, and removed if it no longer matches: the blob is then relayed
// again), whole or one byte range, straight from disk.
import { createWriteStream, type WriteStream } from 'node:fs';
import { chmod, unlink } from 'node:fs/promises';
import type { Digest } from '../oci/digest.ts';
import type { Logger } from '../log.ts';
import type { Answer } from '../proxy/answer.ts';
import type { BlobCache, BlobTap } from '../proxy/blobs.ts';
import { fileAnswer, fileHeaders, parseRange, type ServedFile } from './serve.ts';
import type { BlobStore } from './store.ts';
import type { CacheObserver } from '../metrics/observers.ts';

export interface StoreBlobCacheOptions {
  readonly store: BlobStore;
  /** The largest blob kept (sget.maxArtifactSize); larger ones are relayed without a copy. */
  readonly maxBytes: number;
  readonly log: Logger;
  /** Metrics (cache `blobs`): warm requests answered from the store, and those relayed instead. */
  readonly observer?: CacheObserver;
  /** Digests being copied now, by every cache of the process (app.ts createShared: one per daemon, so two app
   * generations never fill the same digest at once). Absent: a set of this cache's own. */
  readonly filling?: Set<Digest>;
}

export class StoreBlobCache implements BlobCache {
  /** Digests being copied now: one copy per digest, concurrent pulls of it are relayed without one. */
  private readonly filling: Set<Digest>;

  constructor(private readonly opts: StoreBlobCacheOptions) {
    this.filling = opts.filling ?? new Set();
  }

  /** Whether the store can be used; an unusable one (logged by the store's error) means relaying. */
  private async usable(): Promise<boolean> {
    try {
      await this.opts.store.ready();
      return true;
    } catch (e) {
      this.opts.log.warn({ err: (e as Error).message }, 'blob cache: the store cannot be opened; relaying blobs');
      return false;
    }
  }

  async serve(digest: Digest, method: 'GET' | 'HEAD', range: string | undefined): Promise<Answer | undefined> {
    const { store } = this.opts;
    let blob: Awaited<ReturnType<typeof store.checkout>> | undefined;
    try {
      blob = (await this.usable()) && store.has(digest) ? await store.checkout(digest) : undefined;
    } catch (e) {
      // A stored copy that cannot be read is a miss: the blob is relayed from the upstream, as without the cache.
      this.opts.log.warn({ digest, err: (e as Error).message }, 'blob cache: stored copy unreadable; relaying');
      blob = undefined;
    }
    this.opts.observer?.[blob === undefined ? 'miss' : 'hit']();
    if (blob === undefined) return undefined;
    // The Range handling of sget's verified files (serve.ts), with a relayed blob's headers (v2Blob).
    const file: ServedFile = {
      digest,
      size: blob.size,
      mediaType: 'application/octet-stream',
      title: undefined,
      byTag: false,
      v2Blob: true,
    };
    if (method === 'HEAD') {
      await blob.fh.close();
      return { kind: 'bytes', status: 200, headers: fileHeaders(file) };
    }
    return fileAnswer(blob, file, parseRange(range, blob.size));
  }

  async tap(digest: Digest, size: number | undefined): Promise<BlobTap | undefined> {
    const { store, log } = this.opts;
    if (size === undefined || size > this.opts.maxBytes || this.filling.has(digest)) return undefined;
    if (!(await this.usable()) || store.has(digest) || this.filling.has(digest)) return undefined;
    // Claimed before the next await: a concurrent pull of the same digest checking while room is reserved for this
    // one must see it (two copies of one digest would both be kept, one leaking in the store's tmp/).
    this.filling.add(digest);
    let release: () => void;
    try {
      release = await store.reserve(size);
    } catch (e) {
      this.filling.delete(digest);
      log.info({ digest, size, err: (e as Error).message }, 'blob cache: no room now; relaying without a copy');
      return undefined;
    }
    const tmp = store.tempFile();
    const out = createWriteStream(tmp, { flags: 'wx', mode: 0o600, highWaterMark: 256 * 1024 });
    let state: 'copying' | 'broken' | 'done' = 'copying';
    const room: (() => void)[] = [];
    const finish = (): void => {
      release();
      this.filling.delete(digest);
    };
    const discard = (): void => {
      out.destroy();
      void unlink(tmp).catch(() => undefined);
    };
    out.on('drain', () => room.forEach((fn) => fn()));
    out.on('error', (e) => {
      if (state !== 'copying') return;
      state = 'broken';
      log.warn({ digest, err: e.message }, 'blob cache: writing the copy failed; relaying without one');
      discard();
      room.forEach((fn) => fn()); // a relay waiting for the copy goes on without it
    });
    return {
      write: (chunk) => (state === 'copying' ? out.write(chunk) : true),
      onRoom: (fn) => void room.push(fn),
      abandon: () => {
        if (state === 'done') return;
        if (state === 'copying') discard();
        state = 'done';
        finish();
      },
      keep: () => {
        if (state !== 'copying') {
          if (state === 'broken') finish();
          state = 'done';
          return;
        }
        state = 'done';
        void keepCopy(store, out, tmp, digest, size, release)
          .then(() => log.info({ digest, size }, 'blob cache: blob verified and stored'))
          .catch((e: unknown) => {
            log.warn({ digest, err: (e as Error).message }, 'blob cache: the verified copy could not be stored');
            void unlink(tmp).catch(() => undefined);
          })
          .finally(() => finish());
      },
    };
  }
}

/** Close the checked copy and rename it into the store; the reservation ends as the file enters its accounting. */
async function keepCopy(
  store: BlobStore,
  out: WriteStream,
  tmp: string,
  digest: Digest,
  size: number,
  release: () => void,
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    out.once('error', reject);
    out.end(() => resolve());
  });
  await chmod(tmp, 0o400);
  release();
  await store.commit(tmp, digest, size);
}
