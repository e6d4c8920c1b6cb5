// Manifests: tags are always resolved at the upstream (a moved tag is seen at once); manifests by digest come from
// memory once fetched (content-addressed, bytes re-checked when they arrived). Concurrent misses share one fetch.
import { LRUCache } from 'lru-cache';
import type { Digest } from '../oci/digest.ts';
import type { ManifestReference } from '../oci/reference.ts';
import { SingleFlight } from './single-flight.ts';
import type { FetchedManifest, RegistryClient } from './types.ts';

export interface ManifestServiceOptions {
  /** Memory budget for cached manifests, in bytes (0 disables the cache). */
  readonly memoryBytes: number;
}

export class ManifestService {
  private readonly cache: LRUCache<string, FetchedManifest> | undefined;
  private readonly flights = new SingleFlight<FetchedManifest>();

  constructor(opts: ManifestServiceOptions) {
    this.cache =
      opts.memoryBytes > 0
        ? new LRUCache<string, FetchedManifest>({ maxSize: opts.memoryBytes, sizeCalculation: (m) => Math.max(1, m.size + 200) })
        : undefined;
  }

  /** Upstream fetches actually made (not coalesced, not cached). */
  get upstreamFetches(): number {
    return this.flights.calls;
  }

  private key(host: string, repository: string, digest: Digest): string {
    return `${host}/${repository}@${digest}`;
  }

  /** A manifest already held for this repository, if any. */
  cached(host: string, repository: string, digest: Digest): FetchedManifest | undefined {
    return this.cache?.get(this.key(host, repository, digest));
  }

  remember(host: string, repository: string, m: FetchedManifest): void {
    this.cache?.set(this.key(host, repository, m.digest), m);
  }

  async get(client: RegistryClient, host: string, repository: string, ref: ManifestReference, accept?: ReadonlySet<string>): Promise<FetchedManifest> {
    if (ref.kind === 'digest') {
      const hit = this.cached(host, repository, ref.digest);
      if (hit) return hit;
      const m = await this.flights.run(this.key(host, repository, ref.digest), () => client.getManifest(repository, ref, { accept }));
      this.remember(host, repository, m);
      return m;
    }
    const m = await this.flights.run(`${host}/${repository}:${ref.tag}`, () => client.getManifest(repository, ref, { accept }));
    this.remember(host, repository, m);
    return m;
  }
}
