// Manifests: tags are always resolved at the upstream (a moved tag is seen at once); manifests by digest come from
// memory once fetched (content-addressed, bytes re-checked when they arrived). Concurrent misses share one fetch.
// A tag asked again is revalidated, not re-downloaded: the digest it last named goes upstream as If-None-Match and a
// 304 serves the bytes already held (and checked) for that digest. No validator is sent unless those bytes are held.
import { LRUCache } from 'lru-cache';
import type { Digest } from '../oci/digest.ts';
import { MANIFEST_TYPES } from '../oci/mediatypes.ts';
import type { ManifestReference } from '../oci/reference.ts';
import { SingleFlight } from '../util/single-flight.ts';
import type { FetchedManifest, RegistryClient } from './types.ts';
import type { CacheObserver } from '../metrics/observers.ts';

export interface ManifestServiceOptions {
  /** Memory budget for cached manifests, in bytes (0 disables the cache). */
  readonly memoryBytes: number;
  /** Metrics: lookups of manifest bytes in memory that found them or not, manifests pushed out for room. */
  readonly observer?: CacheObserver;
}

/** Manifest bytes kept across restarts (state/kept.ts): asked for a digest not in memory before the upstream is.
 * What it returns has been checked against its digest; undefined when it holds none for this repository. */
export interface KeptManifests {
  manifest(host: string, repository: string, digest: Digest): Promise<FetchedManifest | undefined>;
}

export class ManifestService {
  private readonly cache: LRUCache<string, FetchedManifest> | undefined;
  private readonly flights = new SingleFlight<FetchedManifest>();
  /** `host/repository:tag` + the client's extra Accept types -> the digest that answer last had. */
  private readonly tags: LRUCache<string, Digest> | undefined;
  private kept: KeptManifests | undefined;

  private readonly observer: CacheObserver | undefined;

  constructor(opts: ManifestServiceOptions) {
    this.observer = opts.observer;
    this.cache =
      opts.memoryBytes > 0
        ? new LRUCache<string, FetchedManifest>({
            maxSize: opts.memoryBytes,
            sizeCalculation: (m) => Math.max(1, m.size + 200),
            ...(opts.observer && { dispose: (_m, _k, why) => why === 'evict' && opts.observer?.evicted() }),
          })
        : undefined;
    // Keys carry a client's extra Accept types, so they are counted by length: a client sending huge or ever-changing
    // Accept headers cannot grow this memo past TAG_MEMO_BYTES.
    this.tags = this.cache
      ? new LRUCache<string, Digest>({
          max: TAG_MEMO_ENTRIES,
          maxSize: TAG_MEMO_BYTES,
          sizeCalculation: (_digest, key) => key.length + 100,
        })
      : undefined;
  }

  /** Attach the manifests kept across restarts (one; a later call replaces it). */
  useKept(kept: KeptManifests): void {
    this.kept = kept;
  }

  /** Fetches of manifests not in memory (not coalesced): from the upstream, or after a restart from the kept state. */
  get upstreamFetches(): number {
    return this.flights.calls;
  }

  private key(host: string, repository: string, digest: Digest): string {
    return `${host}/${repository}@${digest}`;
  }

  /** A manifest already held for this repository, if any. */
  cached(host: string, repository: string, digest: Digest): FetchedManifest | undefined {
    const m = this.cache?.get(this.key(host, repository, digest));
    this.observer?.[m === undefined ? 'miss' : 'hit']();
    return m;
  }

  remember(host: string, repository: string, m: FetchedManifest): void {
    this.cache?.set(this.key(host, repository, m.digest), m);
  }

  async get(
    client: RegistryClient,
    host: string,
    repository: string,
    ref: ManifestReference,
    accept?: ReadonlySet<string>,
  ): Promise<FetchedManifest> {
    if (ref.kind === 'digest') {
      const hit = this.cached(host, repository, ref.digest);
      if (hit) return hit;
      const kept = this.kept;
      const m = await this.flights.run(
        this.key(host, repository, ref.digest),
        async () =>
          (await kept?.manifest(host, repository, ref.digest)) ?? client.getManifest(repository, ref, { accept }),
      );
      this.remember(host, repository, m);
      return m;
    }
    const tagKey = `${host}/${repository}:${ref.tag}${acceptKey(accept)}`;
    return this.flights.run(tagKey, async () => {
      const last = this.tags?.get(tagKey);
      const known = last === undefined ? undefined : this.cached(host, repository, last);
      const m = await client.getManifest(repository, ref, known === undefined ? { accept } : { accept, known });
      // A 304 hands back `known`, which the lookups above just marked as recently used.
      if (m !== known) {
        this.remember(host, repository, m);
        this.tags?.set(tagKey, m.digest);
      }
      return m;
    });
  }
}

/** Tags remembered for revalidation (a digest string each; the bytes live in the manifest cache). */
const TAG_MEMO_ENTRIES = 10_000;
const TAG_MEMO_BYTES = 2 * 1024 * 1024;
const STANDARD_TYPES: ReadonlySet<string> = new Set(MANIFEST_TYPES);

/** The upstream's answer to a tag may depend on Accept: sigward always sends every standard type, so only a
 * client's extra types can change it, and they are part of the key. */
function acceptKey(accept: ReadonlySet<string> | undefined): string {
  if (accept === undefined) return '';
  let extra: string[] | undefined;
  for (const t of accept) if (!STANDARD_TYPES.has(t)) (extra ??= []).push(t);
  return extra === undefined ? '' : ` ${extra.sort().join(',')}`;
}
