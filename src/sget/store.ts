// The content-addressed store of verified artifacts behind /sget. Only files whose size and digest
// were checked are ever renamed into it; it is bounded (least recently used evicted) and survives restarts, each file
// sealed (seal.ts) so that one changed on disk is re-hashed before it is served and dropped if it no longer matches.
//
//   <dir>/seal.key                     32 random bytes, 0600
//   <dir>/blobs/<alg>-<hex>            the verified bytes, 0400
//   <dir>/blobs/<alg>-<hex>.seal       the seal; its mtime records the last use (LRU order across restarts)
//   <dir>/tmp/<pid>-<random>.part      downloads in progress (spool.ts), and checked ones until durable; leftovers of
//                                      dead processes are removed
// One store directory belongs to one daemon: two daemons on one directory would evict each other's files.
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import {
  access,
  mkdir,
  open,
  rename,
  stat,
  statfs,
  unlink,
  utimes,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import { join } from 'node:path';
import { SigwardError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import type { Logger } from '../log.ts';
import { storeError } from './fs-errors.ts';
import { hashFile } from './hash.ts';
import { scanStore } from './scan.ts';
import { identityOf, loadSealKey, sameIdentity, writeSeal, type FileIdentity } from './seal.ts';

export interface StoreOptions {
  readonly dir: string;
  /** Disk budget in bytes (sget.storeSize). */
  readonly capacity: number;
  readonly log: Logger;
  /** Free bytes on the store's file system (a seam for tests; default statfs). */
  readonly freeBytes?: (dir: string) => Promise<number>;
}

/** A verified file, open for reading: the caller streams from `fh` and closes it. */
export interface OpenBlob {
  readonly fh: FileHandle;
  readonly digest: Digest;
  readonly size: number;
}

interface Entry {
  readonly digest: Digest;
  readonly size: number;
  /** In tmp/ until the file is durable (then renamed into blobs/): only a durable file is found after a restart. */
  file: string;
  /** The identity the seal vouches for; undefined: the file is re-hashed before its next use. */
  seal: FileIdentity | undefined;
  /** Set while the file moves into blobs/ (rename, then its new identity): a checkout waits for it, so it neither
   * opens a name that just went away nor re-hashes a file whose ctime the rename changed. */
  moving?: Promise<void>;
}

/** Room kept free on the file system besides the download itself (logs, other writers). */
const FREE_MARGIN = 64 * 1024 * 1024;

const freeByStatfs = async (dir: string): Promise<number> => {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
};

export class BlobStore {
  readonly dir: string;
  private readonly blobs: string;
  private readonly tmp: string;
  private opening: Promise<void> | undefined;
  private key: Buffer = Buffer.alloc(0);
  /** Insertion order is recency order: the first entry is the least recently used. */
  private readonly entries = new Map<Digest, Entry>();
  private used = 0;
  private reserved = 0;
  /** Unlinks in progress by digest, so a new file of the same digest is never renamed in before one finishes. */
  private readonly removing = new Map<Digest, Promise<void>>();
  private readonly persisting = new Set<Promise<void>>();
  /** Files re-hashed because their seal did not vouch for them (tests count it). */
  rehashes = 0;

  constructor(private readonly opts: StoreOptions) {
    this.dir = opts.dir;
    this.blobs = join(opts.dir, 'blobs');
    this.tmp = join(opts.dir, 'tmp');
  }

  /** Bytes held (verified files) and reserved (downloads in progress). */
  get usage(): { files: number; bytes: number; reserved: number } {
    return { files: this.entries.size, bytes: this.used, reserved: this.reserved };
  }

  /** Create or load the store once; a failure is not remembered, so a directory fixed later is picked up. */
  ready(): Promise<void> {
    this.opening ??= this.load().catch((e: unknown) => {
      this.opening = undefined;
      throw storeError(e, 'opening the store', this.dir);
    });
    return this.opening;
  }

  private async load(): Promise<void> {
    for (const d of [this.dir, this.blobs, this.tmp]) await mkdir(d, { recursive: true, mode: 0o700 });
    await access(this.dir, fsc.W_OK);
    this.key = await loadSealKey(join(this.dir, 'seal.key'));
    for (const f of await scanStore(this.blobs, this.tmp, this.key)) {
      this.entries.set(f.digest, { ...f });
      this.used += f.size;
    }
    this.evictFor(0);
    this.opts.log.info({ dir: this.dir, files: this.entries.size, bytes: this.used }, 'sget store ready');
  }

  fileOf(digest: Digest): string {
    return join(this.blobs, digest.replace(':', '-'));
  }

  /** A unique name for a download in progress. */
  tempFile(): string {
    return join(this.tmp, `${process.pid}-${randomBytes(8).toString('hex')}.part`);
  }

  has(digest: Digest): boolean {
    return this.entries.has(digest);
  }

  /** The verified file for `digest`, open, or undefined when the store does not hold it (or held a file that
   * failed its check, now removed). A file whose seal does not vouch for it is re-hashed first. */
  async checkout(digest: Digest): Promise<OpenBlob | undefined> {
    const e = this.entries.get(digest);
    if (!e) return undefined;
    await e.moving;
    let fh: FileHandle;
    try {
      fh = await this.openEntry(e);
    } catch (err) {
      this.drop(e, `it cannot be opened (${(err as Error).message})`);
      return undefined;
    }
    try {
      const id = identityOf(await fh.stat({ bigint: true }));
      if (e.seal === undefined || !sameIdentity(e.seal, id)) {
        this.rehashes++;
        const good = id.size === BigInt(e.size) && (await hashFile(fh, digest));
        if (!good) {
          await fh.close();
          this.drop(e, 'its content no longer matches its digest (changed on disk)');
          return undefined;
        }
        await this.seal(e, id);
        this.opts.log.info({ digest, size: e.size }, 'sget store file re-hashed and resealed');
      }
      this.touch(e);
      return { fh, digest, size: e.size };
    } catch (err) {
      await fh.close().catch(() => undefined);
      // A file that cannot be read back is no use kept: the next request downloads (or relays) it again.
      this.drop(e, `it cannot be read back (${(err as Error).message})`);
      throw storeError(err, `reading ${digest} back from the store`, this.dir);
    }
  }

  /** Open an entry's file; a file renamed into blobs/ meanwhile (it became durable) is opened under its new name. */
  private async openEntry(e: Entry): Promise<FileHandle> {
    for (;;) {
      const path = e.file;
      try {
        return await open(path, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || e.file === path) throw err;
      }
    }
  }

  /** Make room for a download of `size` bytes (evicting the least recently used) and hold it until released. */
  async reserve(size: number): Promise<() => void> {
    this.evictFor(size);
    if (this.used + this.reserved + size > this.opts.capacity) {
      throw new SigwardError(
        'STORE_UNAVAILABLE',
        `the sget store has no room for ${size} more bytes while other downloads (${this.reserved} bytes) are in progress (sget.storeSize is ${this.opts.capacity} bytes); try again shortly or raise sget.storeSize`,
        {
          reason: 'sget store busy',
          retryAfter: 10,
        },
      );
    }
    const free = await (this.opts.freeBytes ?? freeByStatfs)(this.dir).catch(() => Number.POSITIVE_INFINITY);
    if (free < size + FREE_MARGIN) {
      throw new SigwardError(
        'STORE_UNAVAILABLE',
        `the disk of the sget store ${this.dir} has ${free} bytes free, not enough for ${size} bytes plus a margin of ${FREE_MARGIN}; nothing was downloaded. Free space there or lower sget.storeSize`,
        {
          reason: 'sget store disk full',
          retryAfter: 30,
        },
      );
    }
    this.reserved += size;
    let held = true;
    return () => {
      if (held) this.reserved -= size;
      held = false;
    };
  }

  /**
   * Take a checked temporary file (already 0400) into the store under its digest. It is served at once, from where it
   * is (its bytes are in the page cache); making it durable happens in the background: fsync of the file, rename into
   * blobs/, fsync of the directory, then its seal. Until then it stays in tmp/, which a restart clears, so the store
   * finds a file after a restart only once its bytes and name are on disk. If that fails the file is removed (logged),
   * once `handedOver` settled (the requests waiting for this download opened it): a client being served from it keeps
   * reading, later requests download it again.
   */
  async commit(tmpFile: string, digest: Digest, size: number, handedOver?: Promise<void>): Promise<void> {
    await this.removing.get(digest);
    if (this.entries.has(digest)) {
      // Another download of the same digest (sget and the blob cache) got there first: the same bytes, kept once.
      await unlink(tmpFile).catch(() => undefined);
      return;
    }
    const id = identityOf(await stat(tmpFile, { bigint: true }));
    const entry: Entry = { digest, size, file: tmpFile, seal: id };
    this.entries.set(digest, entry);
    this.used += size;
    this.evictFor(0, digest);
    const done = this.persist(entry)
      .catch(async (e: unknown) => {
        // Evicted meanwhile (its rename may then fail): drop() already removed it, nothing to report.
        if (this.entries.get(digest) !== entry) return;
        await handedOver;
        this.drop(entry, `it could not be made durable (${(e as Error).message})`);
        this.opts.log.warn(
          { digest, err: (e as Error).message },
          'sget store file not made durable; removed, the next request downloads it again',
        );
      })
      .finally(() => this.persisting.delete(done));
    this.persisting.add(done);
  }

  /** Wait for files still being made durable and sealed, and for removals under way (graceful shutdown, tests). */
  async flush(): Promise<void> {
    while (this.persisting.size > 0 || this.removing.size > 0)
      await Promise.all([...this.persisting, ...this.removing.values()]);
  }

  /** The durability steps of a committed file (commit), and the removal of a dropped one: each one a seam for
   * fault-injection tests. */
  readonly durable = {
    remove: (file: string): Promise<void> => unlink(file),
    syncFile: async (file: string): Promise<void> => {
      const fh = await open(file, 'r');
      await fh.sync().finally(() => fh.close()); // fsync covers the inode, whichever descriptor asks
    },
    syncDir: async (dir: string): Promise<void> => {
      const dh = await open(dir, 'r');
      await dh.sync().finally(() => dh.close()); // and the name
    },
  };

  private async persist(e: Entry): Promise<void> {
    const current = (): boolean => this.entries.get(e.digest) === e;
    await this.durable.syncFile(e.file);
    if (!current()) return; // evicted meanwhile: drop() removed it
    const file = this.fileOf(e.digest);
    let moved!: () => void;
    e.moving = new Promise<void>((resolve) => (moved = resolve));
    let id: FileIdentity;
    try {
      await rename(e.file, file);
      e.file = file;
      if (!current()) {
        // Evicted between the rename and now: drop() unlinked the old name.
        await unlink(file).catch(() => undefined);
        return;
      }
      id = identityOf(await stat(file, { bigint: true })); // a rename changes the ctime
      e.seal = id;
    } finally {
      e.moving = undefined;
      moved();
    }
    await this.durable.syncDir(this.blobs);
    if (current()) await this.seal(e, id);
  }

  private async seal(e: Entry, id: FileIdentity): Promise<void> {
    const tmp = `${e.file}.seal.${randomBytes(4).toString('hex')}`;
    await writeFile(tmp, writeSeal(this.key, { digest: e.digest, ...id }), { mode: 0o600 });
    await rename(tmp, `${e.file}.seal`);
    e.seal = id;
  }

  private touch(e: Entry): void {
    this.entries.delete(e.digest);
    this.entries.set(e.digest, e);
    const now = new Date();
    utimes(`${e.file}.seal`, now, now).catch(() => undefined); // recency only: losing it costs LRU precision
  }

  /** Evict least recently used files until `extra` more bytes fit (never `keep`). */
  private evictFor(extra: number, keep?: Digest): void {
    for (const e of this.entries.values()) {
      if (this.used + this.reserved + extra <= this.opts.capacity) return;
      if (e.digest !== keep) this.drop(e, 'evicted: least recently used');
    }
  }

  private drop(e: Entry, why: string): void {
    if (this.entries.get(e.digest) !== e) return;
    this.entries.delete(e.digest);
    this.used -= e.size;
    const level = why.startsWith('evicted') ? 'info' : 'warn';
    this.opts.log[level]({ digest: e.digest, size: e.size, why }, 'sget store file removed');
    // A reader that has the file open keeps reading it: unlinking only removes the name.
    const gone = Promise.all([e.file, `${e.file}.seal`].map((f) => this.durable.remove(f).catch(() => undefined))).then(
      () => {
        if (this.removing.get(e.digest) === gone) this.removing.delete(e.digest);
      },
    );
    this.removing.set(e.digest, gone);
  }
}
