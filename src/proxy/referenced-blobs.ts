// `blobs: { serve: referenced }`: a /v2/ blob is served only when a manifest sigward allowed lists it (config, layers,
// schema 1 fsLayers) in the same repository. Without it, anyone who knows a layer digest of a denied image can fetch
// it with curl; with it, the policy covers blobs too.
// Remembered per `host/repository@digest`, least recently used first out (bounded by `entries`), and kept across
// restarts in an append-only file under cache.dir: a runtime that resumes a pull after a restart asks for blobs
// without fetching the manifest again. Writes are batched (a crash loses at most the last batch, which the next
// manifest pull re-adds); the file is rewritten from memory when it holds twice as many lines as are remembered.
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LRUCache } from 'lru-cache';
import { isDigest } from '../oci/digest.ts';
import type { Logger } from '../log.ts';

export interface ReferencedBlobsOptions {
  readonly entries: number;
  /** The file that keeps them across restarts; none: memory only. */
  readonly file?: string;
  readonly log: Logger;
  /** How long additions wait to be written together. */
  readonly flushDelayMs?: number;
}

const KEY_RE = /^[^\s@]+\/[^\s@]+@(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export class ReferencedBlobs {
  private readonly known: LRUCache<string, true>;
  private pending: string[] = [];
  private linesInFile = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  /** False once the file failed: memory only from then on (logged once). */
  private persisting: boolean;
  /** Settles when the file has been read: answers wait for it, so a restart never denies what it remembers. */
  readonly ready: Promise<void>;

  constructor(private readonly opts: ReferencedBlobsOptions) {
    this.known = new LRUCache<string, true>({ max: opts.entries });
    this.persisting = opts.file !== undefined;
    this.ready = this.load();
  }

  private static key(host: string, repository: string, digest: string): string {
    return `${host}/${repository}@${digest}`;
  }

  has(host: string, repository: string, digest: string): boolean {
    return this.known.get(ReferencedBlobs.key(host, repository, digest)) === true;
  }

  get size(): number {
    return this.known.size;
  }

  /** Remember the blobs an allowed manifest lists. */
  add(host: string, repository: string, digests: readonly string[]): void {
    for (const d of digests) {
      const key = ReferencedBlobs.key(host, repository, d);
      if (this.known.get(key) === true) continue;
      this.known.set(key, true);
      if (this.persisting) this.pending.push(key);
    }
    if (this.pending.length > 0 && this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.opts.flushDelayMs ?? 100);
      this.timer.unref();
    }
  }

  /** Read the file (a missing file is an empty set). Lines that are not `host/repo@digest` are skipped. */
  private async load(): Promise<void> {
    const file = this.opts.file;
    if (file === undefined) return;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.fail('could not read', e);
      return;
    }
    const lines = text.split('\n');
    // The newest lines are at the end: with more lines than entries, the oldest fall out of the LRU first.
    for (const line of lines)
      if (KEY_RE.test(line) && isDigest(line.slice(line.lastIndexOf('@') + 1))) this.known.set(line, true);
    this.linesInFile = lines.length;
    this.opts.log.info({ file, remembered: this.known.size }, 'referenced blobs loaded');
  }

  /** Write what is pending (and compact the file when it has grown to twice what is remembered). */
  flush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    const file = this.opts.file;
    if (batch.length === 0 || file === undefined || !this.persisting) return this.writing;
    this.writing = this.writing.then(async () => {
      try {
        await mkdir(dirname(file), { recursive: true });
        if (this.linesInFile + batch.length > 2 * Math.max(this.known.size, 1024)) {
          const all = [...this.known.rkeys()];
          await writeFile(`${file}.tmp`, `${all.join('\n')}\n`);
          await rename(`${file}.tmp`, file);
          this.linesInFile = all.length;
        } else {
          await appendFile(file, `${batch.join('\n')}\n`);
          this.linesInFile += batch.length;
        }
      } catch (e) {
        this.fail('could not write', e);
      }
    });
    return this.writing;
  }

  private fail(what: string, e: unknown): void {
    this.persisting = false;
    this.pending = [];
    this.opts.log.warn(
      { file: this.opts.file, err: e instanceof Error ? e.message : String(e) },
      `referenced blobs: ${what} the file; remembering in memory only (blobs of images allowed before a restart need their manifest pulled again)`,
    );
  }
}
