// What the instrumented layers see of the metrics: small interfaces, each already bound to its labels (a cache's
// name, an upstream's host), so a hit on the hot path is one call on an object built once. The layers take them as
// optional dependencies: absent (metrics off), nothing is measured and no clock is read.

/** One cache (verdicts, manifests, tokens, …): lookups that found an entry, lookups that did not, entries pushed out
 * to make room (not expiries). */
export interface CacheObserver {
  hit(): void;
  miss(): void;
  evicted(): void;
}

/** The names of the caches (the `cache` label: a fixed set). */
export type CacheName = 'verdicts' | 'manifests' | 'tokens' | 'blobs' | 'attachments';

/** One configured upstream. */
export interface UpstreamObserver {
  /** A response head arrived; `startMs` is the performance.now() reading taken before the request went out. */
  responded(startMs: number): void;
  /** A request failed with `error` (a SigwardError, or the connection error under it): its class label is made from
   * it (a fixed set: upstream-errors.ts). Answers (a 404's MANIFEST_UNKNOWN) and requests sigward aborted itself are
   * not counted; one error object is counted once, wherever else it is reported. */
  failed(error: unknown): void;
}

/** The gate's decisions (proxy/gate.ts). `ms`: how long a fresh verification took (0 when cached). */
export interface DecisionObserver {
  decision(policy: string, outcome: string, cached: boolean, ms: number): void;
}

/** What a signature lookup found (proxy/signatures.ts Discovery, structurally). */
export interface LookupResult {
  readonly signatures: readonly unknown[];
  readonly unreadable: readonly unknown[];
}

export interface LookupObserver {
  /** Counts the lookup by its result (found, none, failed) and hands the same promise's value back. */
  signatureLookup<T extends LookupResult>(lookup: Promise<T>): Promise<T>;
}

/** Bytes written to clients for one route (v2 blobs, sget files). */
export interface ByteCounter {
  add(n: number): void;
}

/** The HTTP edge: one call per finished request (`path` as the client sent it, query included). */
export interface RequestObserver {
  request(path: string, status: number, start: bigint): void;
}

/** What the sget store holds right now (read when scraped). */
export interface StoreUsage {
  readonly files: number;
  readonly bytes: number;
  readonly capacity: number;
}
