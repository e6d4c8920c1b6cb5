// Verdict memory of the gate. Verdicts are keyed by (policy hash, repository, digest, manifest kind): a new policy
// never reuses an old verdict. Allowed and denied verdicts have their own lifetimes (denials short: images are
// signed after they are pushed). Upstream failures are never stored here. A second map remembers which image
// manifests are covered by a verified index of the same repository (multi-arch `either`/`index`).
// Both are bounded by entries and the verdicts also by bytes: a decision carries its messages (every signature seen
// and why it did not count), whose size the upstream's signatures decide, not the number of entries.
import type { LRUCache } from 'lru-cache';
import { CountedLru } from '../util/counted-lru.ts';
import type { Decision } from '../policy/types.ts';
import type { CacheObserver } from '../metrics/observers.ts';

export interface VerdictOptions {
  readonly allowTtlMs: number;
  readonly denyTtlMs: number;
  readonly maxEntries: number;
  /** Budget for the stored verdicts as measured by verdictBytes (default 64 MiB). */
  readonly maxBytes?: number;
  /** The clock the lifetimes run on (milliseconds); default lru-cache's own (performance.now). */
  readonly now?: () => number;
  /** Metrics: lookups that found a verdict or not, verdicts pushed out for room. */
  readonly observer?: CacheObserver;
}

export interface StoredVerdict {
  readonly decision: Decision;
  /** Formats of the signatures found (`legacy`, `bundle`), for the decision log. */
  readonly formats: readonly string[];
  readonly found: number;
}

/** Told of what the cache learns, to keep it across restarts (state/kept.ts): an allowed verdict and the children a
 * verified index covers, each with its lifetime. Called on the request path: it must only queue, never wait. */
export interface VerdictListener {
  verdictSet(key: string, v: StoredVerdict, ttlMs: number): void;
  /** A verdict other than an allow was reached for `key`: any allow kept for it is void. */
  verdictCleared(key: string): void;
  childrenCovered(index: IndexCoverage, ttlMs: number): void;
}

/** The image manifests a verified index lists, under one policy hash and repository. */
export interface IndexCoverage {
  readonly policyHash: string;
  readonly repo: string;
  readonly indexDigest: string;
  readonly children: readonly string[];
}

export const DEFAULT_VERDICT_BYTES = 64 * 1024 * 1024;

/** Fixed cost charged per stored verdict and per signature listed in it: object headers, map slots, numbers. */
const ENTRY_OVERHEAD = 512;
const SIGNATURE_OVERHEAD = 96;

/** What one verdict costs in memory, approximately: its key and every string it holds at two bytes per character
 * (V8 keeps non-Latin-1 text as UTF-16), plus fixed overheads. Cheap enough to compute once per verification. */
export function verdictBytes(key: string, v: StoredVerdict): number {
  const d = v.decision;
  let chars =
    key.length +
    d.summary.length +
    d.message.length +
    d.policyName.length +
    (d.matchedPattern?.length ?? 0) +
    d.outcome.length;
  for (const s of d.signers) chars += s.length;
  for (const f of v.formats) chars += f.length;
  let bytes = ENTRY_OVERHEAD + d.perSignature.length * SIGNATURE_OVERHEAD;
  for (const p of d.perSignature) {
    chars += p.source.length + (p.message?.length ?? 0) + (p.reason?.length ?? 0);
    for (const s of p.signers) chars += s.length;
  }
  bytes += 2 * chars;
  return bytes;
}

/** lru-cache options that make its TTLs run on an injected clock. ttlResolution 0: lru-cache otherwise reuses one
 * reading for a millisecond of real time (a timer resets it), so a clock moved in between would be seen late. A
 * reading of 0 is lifted to 1: lru-cache takes a start time of 0 for "no TTL", and the entry would never expire. */
function clockOption(now: (() => number) | undefined): { perf?: { now(): number }; ttlResolution?: number } {
  if (now === undefined) return {};
  return { perf: { now: () => Math.max(1, now()) }, ttlResolution: 0 };
}

export class VerdictCache {
  private readonly verdicts: LRUCache<string, StoredVerdict>;
  /** child key -> the verified index digest that lists it. */
  private readonly covered: LRUCache<string, string>;
  private listener: VerdictListener | undefined;

  constructor(private readonly opts: VerdictOptions) {
    const clock = clockOption(opts.now);
    this.verdicts = new CountedLru<string, StoredVerdict>(opts.maxEntries, {
      ...clock,
      maxSize: opts.maxBytes ?? DEFAULT_VERDICT_BYTES,
      sizeCalculation: (v, key) => verdictBytes(key, v),
      ...(opts.observer && { dispose: (_v, _k, why) => why === 'evict' && opts.observer?.evicted() }),
      ttlAutopurge: false,
      ttl: Math.max(1, opts.allowTtlMs),
    });
    this.covered = new CountedLru<string, string>(opts.maxEntries, { ...clock, ttl: Math.max(1, opts.allowTtlMs) });
  }

  /** Attach the keeper of this cache across restarts (one; a later call replaces it). */
  listen(listener: VerdictListener): void {
    this.listener = listener;
  }

  static key(policyHash: string, repo: string, digest: string, kind: string): string {
    return `${policyHash}|${repo}|${digest}|${kind}`;
  }

  /** Whether a verdict is held for `key` (not counted as a lookup). */
  has(key: string): boolean {
    return this.verdicts.has(key);
  }

  get(key: string): StoredVerdict | undefined {
    const v = this.verdicts.get(key);
    this.opts.observer?.[v === undefined ? 'miss' : 'hit']();
    return v;
  }

  /** Store a verdict; one larger than the whole budget is not kept (the next pull verifies again, within the
   * discovery limits). */
  set(key: string, v: StoredVerdict): void {
    const allowed = v.decision.allow && !v.decision.wouldDeny;
    // Told first, even when not cached (denyTtl 0): a kept allow must not come back after a restart.
    if (!allowed) this.listener?.verdictCleared(key);
    const ttl = allowed ? this.opts.allowTtlMs : this.opts.denyTtlMs;
    if (ttl <= 0) return;
    this.verdicts.set(key, v, { ttl });
    if (allowed) this.listener?.verdictSet(key, v, ttl);
  }

  /** Put back a verdict kept across a restart, for what is left of its lifetime (capped at today's allowTtl: a
   * shortened TTL applies to kept verdicts too). Not told to the listener: it is where the verdict came from. */
  restore(key: string, v: StoredVerdict, remainingMs: number): void {
    const ttl = Math.min(remainingMs, this.opts.allowTtlMs);
    if (ttl > 0 && v.decision.allow && !v.decision.wouldDeny) this.verdicts.set(key, v, { ttl });
  }

  /** Put back one covered child kept across a restart (like restore). */
  restoreCover(policyHash: string, repo: string, child: string, indexDigest: string, remainingMs: number): void {
    const ttl = Math.min(remainingMs, this.opts.allowTtlMs);
    if (ttl > 0) this.covered.set(`${policyHash}|${repo}|${child}`, indexDigest, { ttl });
  }

  /** Record that `indexDigest` verified and lists these child manifests (same policy and repository). */
  coverChildren(policyHash: string, repo: string, indexDigest: string, children: readonly string[]): void {
    if (this.opts.allowTtlMs <= 0) return;
    for (const child of children)
      this.covered.set(`${policyHash}|${repo}|${child}`, indexDigest, { ttl: this.opts.allowTtlMs });
    this.listener?.childrenCovered({ policyHash, repo, indexDigest, children }, this.opts.allowTtlMs);
  }

  coveringIndex(policyHash: string, repo: string, digest: string): string | undefined {
    return this.covered.get(`${policyHash}|${repo}|${digest}`);
  }

  get size(): number {
    return this.verdicts.size;
  }

  /** Bytes the stored verdicts account for (verdictBytes of each). */
  get bytes(): number {
    return this.verdicts.calculatedSize;
  }

  /** The accounted size of one stored verdict, or undefined when it is not held. */
  entryBytes(key: string): number | undefined {
    const v = this.verdicts.peek(key);
    return v === undefined ? undefined : verdictBytes(key, v);
  }
}
