// Verdict memory of the gate. Verdicts are keyed by (policy hash, repository, digest, manifest kind): a new policy
// never reuses an old verdict. Allowed and denied verdicts have their own lifetimes (denials short: images are
// signed after they are pushed). Upstream failures are never stored here. A second map remembers which image
// manifests are covered by a verified index of the same repository (multi-arch `either`/`index`).
import { LRUCache } from 'lru-cache';
import type { Decision } from '../policy/types.ts';

export interface VerdictOptions {
  readonly allowTtlMs: number;
  readonly denyTtlMs: number;
  readonly maxEntries: number;
}

export interface StoredVerdict {
  readonly decision: Decision;
  /** Formats of the signatures found (`legacy`, `bundle`), for the decision log. */
  readonly formats: readonly string[];
  readonly found: number;
}

export class VerdictCache {
  private readonly verdicts: LRUCache<string, StoredVerdict>;
  /** child key -> the verified index digest that lists it. */
  private readonly covered: LRUCache<string, string>;

  constructor(private readonly opts: VerdictOptions) {
    this.verdicts = new LRUCache<string, StoredVerdict>({ max: opts.maxEntries, ttlAutopurge: false, ttl: Math.max(1, opts.allowTtlMs) });
    this.covered = new LRUCache<string, string>({ max: opts.maxEntries, ttl: Math.max(1, opts.allowTtlMs) });
  }

  static key(policyHash: string, repo: string, digest: string, kind: string): string {
    return `${policyHash}|${repo}|${digest}|${kind}`;
  }

  get(key: string): StoredVerdict | undefined {
    return this.verdicts.get(key);
  }

  set(key: string, v: StoredVerdict): void {
    const ttl = v.decision.allow && !v.decision.wouldDeny ? this.opts.allowTtlMs : this.opts.denyTtlMs;
    if (ttl <= 0) return;
    this.verdicts.set(key, v, { ttl });
  }

  /** Record that `indexDigest` verified and lists these child manifests (same policy and repository). */
  coverChildren(policyHash: string, repo: string, indexDigest: string, children: readonly string[]): void {
    if (this.opts.allowTtlMs <= 0) return;
    for (const child of children) this.covered.set(`${policyHash}|${repo}|${child}`, indexDigest, { ttl: this.opts.allowTtlMs });
  }

  coveringIndex(policyHash: string, repo: string, digest: string): string | undefined {
    return this.covered.get(`${policyHash}|${repo}|${digest}`);
  }

  get size(): number {
    return this.verdicts.size;
  }
}
