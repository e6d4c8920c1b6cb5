// The state sigward keeps across restarts, under `<cache.dir>/state`:
//
//   journal                      sealed records (journal.ts), newest last:
//                                  v  an allowed verdict: its key (policy hash|repository|digest|kind), expiry, verdict
//                                  c  a verified index's children: policy hash, repository, index, children, expiry
//                                  s  a manifest served verified: host/repository@digest, policy hash, time, type
//                                  g  a tag served verified: host/repository:tag -> digest, policy hash, time
//   manifests/<alg>-<hex>        the exact bytes of each manifest an `s` record names (0600)
//
// It attaches to the verdict cache (VerdictListener) and the manifest service (KeptManifests) that are created once
// per daemon, and answers fail-static lookups (KeptVerified). On load, verdicts and covered children of the policy
// in force are put back for what is left of their lifetime, so a restart neither re-verifies everything at once nor
// refuses a platform manifest its verified index already covers; records of another policy hash are never used to
// admit anything. Manifest bytes are read only when asked, and only believed when they hash to the digest their
// sealed record names; a file without a record is removed. Writes are queued and written in batches off the request
// path (flush on close); the journal is rewritten when mostly superseded. Bounded by `cache.stateSize` (manifest
// bytes, least recently served out) and `cache.verdictEntries` (records of each kind). A cache.dir that cannot be
// used leaves the daemon running on memory only, said once in the log.
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { LRUCache } from 'lru-cache';
import { CountedLru } from '../util/counted-lru.ts';
import type { Logger } from '../log.ts';
import { digestAlgorithm, digestHex, isDigest, matchesDigest, type Digest } from '../oci/digest.ts';
import type { ManifestReference } from '../oci/reference.ts';
import type { Decision } from '../policy/types.ts';
import type { KeptVerified, ServedPlace, ServedVerified } from '../proxy/fail-static.ts';
import type { KeptManifests } from '../proxy/manifests.ts';
import type { FetchedManifest } from '../proxy/types.ts';
import {
  verdictBytes,
  type IndexCoverage,
  type StoredVerdict,
  type VerdictCache,
  type VerdictListener,
} from '../proxy/verdicts.ts';
import { loadSealKey } from '../sget/seal.ts';
import { appendLines, readJournal, rewriteJournal, sealLine } from './journal.ts';

export interface KeptStateOptions {
  /** `<cache.dir>/state`. */
  readonly dir: string;
  /** False: memory only, nothing under the directory is read or written (commands other than serve). */
  readonly persist?: boolean;
  /** The sget store's seal key (`<cache.dir>/sget/seal.key`), created when missing. */
  readonly keyFile: string;
  /** cache.stateSize: manifest bytes kept (0: nothing is kept, memory only). */
  readonly maxBytes: number;
  /** cache.verdictEntries: records of each kind. */
  readonly maxEntries: number;
  /** cache.verdictMemory: bytes of verdicts kept. */
  readonly verdictBytes: number;
  /** The verdict cache to keep (its allowed verdicts and covered children) and to put them back into. */
  readonly verdicts: VerdictCache;
  /** The policy in force (read at load: only its verdicts are put back). */
  readonly policyHash: () => string;
  readonly log: Logger;
  /** Wall clock in milliseconds (the verdict cache's clock when injected); default Date.now. */
  readonly now?: () => number;
  readonly flushDelayMs?: number;
}

interface ServedRecord extends ServedVerified {
  readonly mediaType: string;
  readonly size: number;
}

interface TagRecord {
  readonly digest: Digest;
  readonly policyHash: string;
  readonly at: number;
}

/** A served or tag record is written again at most this often (its time is that precise: fail-static windows are
 * hours). */
const REFRESH_MS = 60_000;
/** Fixed cost of a served record in the byte budget besides its manifest. */
const RECORD_OVERHEAD = 256;
/** A manifest larger than this is never kept (the upstream client's own cap is far below it). */
const MAX_MANIFEST = 16 * 1024 * 1024;

type Rec = Record<string, unknown>;

const str = (v: unknown): v is string => typeof v === 'string';
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const strs = (v: unknown): v is string[] => Array.isArray(v) && v.every(str);

export class KeptState implements VerdictListener, KeptManifests, KeptVerified {
  readonly ready: Promise<void>;
  loaded = false;
  private key: Buffer | undefined;
  private persisting: boolean;
  private readonly journal: string;
  private readonly manifestDir: string;
  private readonly clock: () => number;
  private readonly verdictRecs: LRUCache<string, { exp: number; v: StoredVerdict }>;
  private readonly coverRecs: LRUCache<string, { exp: number; children: readonly string[] }>;
  private readonly served: LRUCache<string, ServedRecord>;
  private readonly tags: LRUCache<string, TagRecord>;
  /** Digest -> how many served records name its file. */
  private readonly files = new Map<string, number>();
  /** Manifest files to write with the next batch (memory only: all kept bytes, bounded like the files). */
  private pendingFiles = new Map<string, Uint8Array>();
  /** The batch being written now (still readable from here). */
  private writingFiles = new Map<string, Uint8Array>();
  private pendingUnlinks = new Set<string>();
  private pending: Rec[] = [];
  private linesInFile = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void>;

  constructor(private readonly opts: KeptStateOptions) {
    this.persisting = opts.persist !== false && opts.maxBytes > 0;
    this.journal = join(opts.dir, 'journal');
    this.manifestDir = join(opts.dir, 'manifests');
    this.clock = opts.now ?? Date.now;
    this.verdictRecs = new CountedLru(opts.maxEntries, {
      maxSize: Math.max(1, opts.verdictBytes),
      sizeCalculation: (r, k) => verdictBytes(k, r.v),
    });
    this.coverRecs = new CountedLru(opts.maxEntries, {});
    this.served = new CountedLru<string, ServedRecord>(opts.maxEntries, {
      maxSize: Math.max(1, opts.maxBytes),
      sizeCalculation: (r) => r.size + RECORD_OVERHEAD,
      dispose: (_r, key, reason) => {
        if (reason !== 'set') this.release(key.slice(key.lastIndexOf('@') + 1));
      },
    });
    this.tags = new CountedLru(opts.maxEntries, {});
    opts.verdicts.listen(this);
    this.ready = this.persisting ? this.load() : Promise.resolve();
    void this.ready.then(() => (this.loaded = true));
    // Writes queue behind the load (which never rejects): a batch never races the key or a rewrite of the journal.
    this.writing = this.ready;
  }

  now(): number {
    return this.clock();
  }

  // --- VerdictListener (request path: queue only) ---

  verdictSet(key: string, v: StoredVerdict, ttlMs: number): void {
    if (!this.persisting) return;
    const exp = this.clock() + ttlMs;
    this.verdictRecs.set(key, { exp, v });
    this.queue({ t: 'v', k: key, exp, v });
  }

  verdictCleared(key: string): void {
    if (!this.persisting || !this.verdictRecs.has(key)) return;
    this.verdictRecs.delete(key);
    this.queue({ t: 'x', key });
  }

  childrenCovered(index: IndexCoverage, ttlMs: number): void {
    const { policyHash, repo, indexDigest, children } = index;
    if (!this.persisting) return;
    const exp = this.clock() + ttlMs;
    const key = `${policyHash}|${repo}|${indexDigest}`;
    const had = this.coverRecs.get(key);
    // Every request that waited on one verification reports it: write it once.
    if (had !== undefined && had.exp > exp - REFRESH_MS) return;
    this.coverRecs.set(key, { exp, children });
    this.queue({ t: 'c', ph: policyHash, repo, idx: indexDigest, ch: children, exp });
  }

  // --- KeptVerified ---

  servedVerified(place: ServedPlace, m: FetchedManifest, d: Decision, policyHash: string): void {
    const { host, repository, tag } = place;
    if (m.size > MAX_MANIFEST || m.size + RECORD_OVERHEAD > this.opts.maxBytes) return;
    const at = this.clock();
    const key = `${host}/${repository}@${m.digest}`;
    const had = this.served.get(key);
    if (had === undefined || had.policyHash !== policyHash || at - had.at >= REFRESH_MS) {
      if (had === undefined) this.hold(m);
      const rec: ServedRecord = {
        policyHash,
        at,
        policyName: d.policyName,
        outcome: d.outcome,
        signers: d.signers,
        mediaType: m.mediaType,
        size: m.size,
      };
      this.served.set(key, rec);
      this.queue(servedLine(key, rec));
    }
    if (tag === undefined) return;
    const tagKey = `${host}/${repository}:${tag}`;
    const t = this.tags.get(tagKey);
    if (t === undefined || t.digest !== m.digest || t.policyHash !== policyHash || at - t.at >= REFRESH_MS) {
      this.tags.set(tagKey, { digest: m.digest, policyHash, at });
      this.queue({ t: 'g', key: tagKey, d: m.digest, ph: policyHash, at });
    }
  }

  servedNotVerified(place: ServedPlace, digest: Digest, policyHash: string): void {
    const { host, repository, tag } = place;
    const key = `${host}/${repository}@${digest}`;
    if (this.served.get(key)?.policyHash === policyHash) {
      this.served.delete(key);
      this.queue({ t: 'x', key });
    }
    if (tag === undefined) return;
    const tagKey = `${host}/${repository}:${tag}`;
    if (this.tags.get(tagKey)?.policyHash === policyHash) {
      this.tags.delete(tagKey);
      this.queue({ t: 'x', key: tagKey });
    }
  }

  async lastVerified(
    host: string,
    repository: string,
    ref: ManifestReference,
    policyHash: string,
    since: number,
  ): Promise<{ manifest: FetchedManifest; served: ServedVerified } | undefined> {
    if (!this.loaded) await this.ready;
    let digest: Digest;
    let at: number;
    if (ref.kind === 'tag') {
      const t = this.tags.get(`${host}/${repository}:${ref.tag}`);
      if (t === undefined || t.policyHash !== policyHash || t.at < since) return undefined;
      digest = t.digest;
      at = t.at;
    } else {
      digest = ref.digest;
      at = Number.POSITIVE_INFINITY;
    }
    const s = this.served.get(`${host}/${repository}@${digest}`);
    if (s === undefined || s.policyHash !== policyHash || s.at < since) return undefined;
    const manifest = await this.manifest(host, repository, digest);
    return manifest === undefined ? undefined : { manifest, served: { ...s, at: Math.min(at, s.at) } };
  }

  // --- KeptManifests ---

  async manifest(host: string, repository: string, digest: Digest): Promise<FetchedManifest | undefined> {
    if (!this.loaded) await this.ready;
    const key = `${host}/${repository}@${digest}`;
    const rec = this.served.peek(key);
    if (rec === undefined) return undefined;
    const held = this.pendingFiles.get(digest) ?? this.writingFiles.get(digest);
    let bytes: Uint8Array;
    if (held !== undefined) bytes = held;
    else {
      try {
        bytes = await readFile(this.fileOf(digest));
      } catch (e) {
        this.opts.log.warn({ digest, err: (e as Error).message }, 'kept manifest unreadable; forgotten');
        this.served.delete(key);
        return undefined;
      }
    }
    if (bytes.length !== rec.size || !matchesDigest(bytes, digest)) {
      this.opts.log.warn(
        { digest, file: this.fileOf(digest) },
        'kept manifest does not match its digest (changed on disk); removed, never served',
      );
      for (const k of [...this.served.keys()]) if (k.endsWith(`@${digest}`)) this.served.delete(k);
      return undefined;
    }
    return { bytes, digest, mediaType: rec.mediaType, size: rec.size };
  }

  // --- files ---

  private fileOf(digest: string): string {
    return join(this.manifestDir, `${digestAlgorithm(digest as Digest)}-${digestHex(digest as Digest)}`);
  }

  /** A served record now names this manifest: its file is written with the next batch unless already there. */
  private hold(m: FetchedManifest): void {
    const n = this.files.get(m.digest) ?? 0;
    this.files.set(m.digest, n + 1);
    if (n === 0) {
      this.pendingUnlinks.delete(m.digest);
      this.pendingFiles.set(m.digest, m.bytes);
    }
  }

  /** A served record naming this manifest is gone: the file goes with the last one. */
  private release(digest: string): void {
    const n = (this.files.get(digest) ?? 1) - 1;
    if (n > 0) {
      this.files.set(digest, n);
      return;
    }
    this.files.delete(digest);
    if (!this.pendingFiles.delete(digest)) this.pendingUnlinks.add(digest);
  }

  // --- journal ---

  private queue(record: Rec): void {
    if (!this.persisting) return;
    this.pending.push(record);
    if (this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.opts.flushDelayMs ?? 200);
      this.timer.unref();
    }
  }

  /** Write what is queued: manifest files first, then the journal lines that name them. */
  flush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.persisting) return this.writing;
    const batch = this.pending;
    const files = this.pendingFiles;
    const unlinks = this.pendingUnlinks;
    if (batch.length === 0 && files.size === 0 && unlinks.size === 0) return this.writing;
    this.pending = [];
    this.pendingFiles = new Map();
    this.pendingUnlinks = new Set();
    this.writing = this.writing.then(async () => {
      const key = this.key;
      if (!this.persisting || key === undefined) {
        for (const [d, b] of files) if (this.files.has(d)) this.pendingFiles.set(d, b);
        return;
      }
      this.writingFiles = files;
      try {
        for (const [digest, bytes] of files) {
          const file = this.fileOf(digest);
          await writeFile(`${file}.tmp`, bytes, { mode: 0o600 });
          await rename(`${file}.tmp`, file);
        }
        const lines = batch.map((r) => sealLine(key, r));
        if (this.linesInFile + lines.length > 2 * this.liveRecords() + 1024) await this.compact();
        else if (lines.length > 0) {
          await appendLines(this.journal, lines);
          this.linesInFile += lines.length;
        }
        for (const digest of unlinks) await unlink(this.fileOf(digest)).catch(() => undefined);
      } catch (e) {
        this.fail('could not write', e);
        // Memory only from now on: the batch's manifests stay readable from memory.
        for (const [d, b] of files) if (this.files.has(d)) this.pendingFiles.set(d, b);
      } finally {
        this.writingFiles = new Map();
      }
    });
    return this.writing;
  }

  private liveRecords(): number {
    return this.verdictRecs.size + this.coverRecs.size + this.served.size + this.tags.size;
  }

  /** Rewrite the journal from what is remembered (expired verdicts left out). */
  private async compact(): Promise<void> {
    const key = this.key as Buffer;
    const now = this.clock();
    const lines: string[] = [];
    // Oldest first (rkeys): read back in order, the most recent is the one kept by each LRU.
    for (const k of this.served.rkeys()) {
      const r = this.served.peek(k);
      if (r !== undefined) lines.push(sealLine(key, servedLine(k, r)));
    }
    for (const k of this.tags.rkeys()) {
      const t = this.tags.peek(k);
      if (t !== undefined) lines.push(sealLine(key, { t: 'g', key: k, d: t.digest, ph: t.policyHash, at: t.at }));
    }
    for (const k of this.verdictRecs.rkeys()) {
      const r = this.verdictRecs.peek(k);
      if (r !== undefined && r.exp > now) lines.push(sealLine(key, { t: 'v', k, exp: r.exp, v: r.v }));
    }
    for (const k of this.coverRecs.rkeys()) {
      const r = this.coverRecs.peek(k);
      if (r === undefined || r.exp <= now) continue;
      const [ph, repo, idx] = splitCoverKey(k);
      lines.push(sealLine(key, { t: 'c', ph, repo, idx, ch: r.children, exp: r.exp }));
    }
    await rewriteJournal(this.journal, lines);
    this.linesInFile = lines.length;
  }

  private async load(): Promise<void> {
    const log = this.opts.log;
    try {
      await mkdir(this.manifestDir, { recursive: true, mode: 0o700 });
      await mkdir(dirname(this.opts.keyFile), { recursive: true, mode: 0o700 });
      this.key = await loadSealKey(this.opts.keyFile);
      const read = await readJournal(this.journal, this.key);
      let unusable = read.rejected;
      for (const r of read.records) if (!this.apply(r)) unusable++;
      const restored = this.restore();
      const stray = await this.removeStrayFiles();
      this.linesInFile = read.lines;
      if (unusable > 0 || read.torn)
        log.warn(
          { file: this.journal, ignored: unusable, torn: read.torn },
          'state journal: lines whose seal or form did not check out (changed on disk, written by someone else, or cut by a crash) were ignored',
        );
      if (unusable > 0 || read.torn || stray > 0 || read.lines > 2 * this.liveRecords() + 1024) await this.compact();
      log.info(
        { dir: this.opts.dir, ...restored, manifests: this.files.size, tags: this.tags.size },
        'kept state loaded',
      );
    } catch (e) {
      this.fail('could not use', e);
    }
  }

  /** One journal record into memory; false when it does not have the form sigward writes. */
  private apply(r: Rec): boolean {
    switch (r.t) {
      case 'v':
        if (!str(r.k) || !num(r.exp) || !isStoredVerdict(r.v)) return false;
        this.verdictRecs.set(r.k, { exp: r.exp, v: r.v });
        return true;
      case 'c':
        if (!str(r.ph) || !str(r.repo) || !str(r.idx) || !strs(r.ch) || !num(r.exp)) return false;
        this.coverRecs.set(`${r.ph}|${r.repo}|${r.idx}`, { exp: r.exp, children: r.ch });
        return true;
      case 's': {
        const key = r.key;
        const digest = str(key) ? key.slice(key.lastIndexOf('@') + 1) : '';
        if (
          !str(key) ||
          !isDigest(digest) ||
          !str(r.ph) ||
          !num(r.at) ||
          !str(r.p) ||
          !str(r.o) ||
          !strs(r.sg) ||
          !str(r.mt) ||
          !num(r.n)
        )
          return false;
        if (!this.served.has(key)) this.files.set(digest, (this.files.get(digest) ?? 0) + 1);
        this.served.set(key, {
          policyHash: r.ph,
          at: r.at,
          policyName: r.p,
          outcome: r.o,
          signers: r.sg,
          mediaType: r.mt,
          size: r.n,
        });
        return true;
      }
      case 'x':
        // A verdict (`policy|repo|digest|kind`), a served manifest (`host/repo@digest`) or a tag (`host/repo:tag`)
        // decided otherwise since.
        if (!str(r.key)) return false;
        if (r.key.includes('|')) this.verdictRecs.delete(r.key);
        else if (r.key.includes('@')) this.served.delete(r.key);
        else this.tags.delete(r.key);
        return true;
      case 'g':
        if (!str(r.key) || !str(r.d) || !isDigest(r.d) || !str(r.ph) || !num(r.at)) return false;
        this.tags.set(r.key, { digest: r.d, policyHash: r.ph, at: r.at });
        return true;
      default:
        return false;
    }
  }

  /** Put the verdicts and covered children of the policy in force back into the verdict cache. */
  private restore(): { verdicts: number; covered: number } {
    const cache = this.opts.verdicts;
    const ph = this.opts.policyHash();
    const now = this.clock();
    let verdicts = 0;
    let covered = 0;
    for (const k of this.verdictRecs.rkeys()) {
      const r = this.verdictRecs.peek(k);
      if (r === undefined || r.exp <= now || !k.startsWith(`${ph}|`)) continue;
      cache.restore(k, r.v, r.exp - now);
      verdicts++;
    }
    for (const k of this.coverRecs.rkeys()) {
      const r = this.coverRecs.peek(k);
      if (r === undefined || r.exp <= now || !k.startsWith(`${ph}|`)) continue;
      const [, repo, idx] = splitCoverKey(k);
      for (const child of r.children) cache.restoreCover(ph, repo, child, idx, r.exp - now);
      covered += r.children.length;
    }
    return { verdicts, covered };
  }

  /** Remove files in manifests/ that no record names (left by an eviction cut short, or put there by someone else). */
  private async removeStrayFiles(): Promise<number> {
    let stray = 0;
    for (const name of await readdir(this.manifestDir)) {
      const i = name.indexOf('-');
      const digest = i < 0 ? '' : `${name.slice(0, i)}:${name.slice(i + 1)}`;
      if (isDigest(digest) && this.files.has(digest)) continue;
      stray++;
      await unlink(join(this.manifestDir, name)).catch(() => undefined);
    }
    return stray;
  }

  private fail(what: string, e: unknown): void {
    if (!this.persisting) return;
    this.persisting = false;
    this.pending = [];
    this.opts.log.warn(
      { dir: this.opts.dir, err: e instanceof Error ? e.message : String(e) },
      `kept state: ${what} the state directory; running on memory only (a restart forgets verdicts, and fail-static has nothing to serve)`,
    );
  }
}

function servedLine(key: string, r: ServedRecord): Rec {
  return {
    t: 's',
    key,
    ph: r.policyHash,
    at: r.at,
    p: r.policyName,
    o: r.outcome,
    sg: r.signers,
    mt: r.mediaType,
    n: r.size,
  };
}

/** `policy hash|repository|index digest` (the repository holds no `|`: it is `host/name`). */
function splitCoverKey(k: string): [string, string, string] {
  const a = k.indexOf('|');
  const b = k.lastIndexOf('|');
  return [k.slice(0, a), k.slice(a + 1, b), k.slice(b + 1)];
}

function isStoredVerdict(v: unknown): v is StoredVerdict {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Rec;
  const d = o.decision as Rec | undefined;
  return (
    strs(o.formats) &&
    num(o.found) &&
    typeof d === 'object' &&
    d !== null &&
    d.allow === true &&
    d.wouldDeny === false &&
    str(d.outcome) &&
    str(d.policyName) &&
    str(d.summary) &&
    str(d.message) &&
    strs(d.signers) &&
    Array.isArray(d.perSignature)
  );
}
