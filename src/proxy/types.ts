// What the proxy layer needs from the upstream layer (implemented by src/upstream/client.ts).
import type {
  BlobGetOptions,
  BlobRedirect,
  BlobStream,
  FetchedManifest,
  ListAnswer,
  ManifestGetOptions,
} from '../upstream/client.ts';
import type { SigwardError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import type { ManifestReference } from '../oci/reference.ts';

// The data shapes are the upstream client's own (upstream sits below proxy); RegistryClient is what proxy needs.
export type { FetchedManifest, BlobRedirect, BlobStream, ListAnswer, ManifestGetOptions } from '../upstream/client.ts';

export interface RegistryClient {
  getManifest(repository: string, ref: ManifestReference, opts?: ManifestGetOptions): Promise<FetchedManifest>;
  getBlob(repository: string, digest: Digest, opts?: BlobGetOptions): Promise<BlobStream>;
  headBlob(repository: string, digest: Digest): Promise<{ size?: number; headers: Record<string, string> }>;
  getTags(repository: string, query: { n?: string; last?: string }): Promise<ListAnswer>;
  getReferrers(repository: string, digest: Digest, artifactType?: string): Promise<ListAnswer>;
  /** A small blob read whole, at most `cap` bytes kept (`overflow`: it was longer). */
  readBlob(repository: string, digest: Digest, cap: number): Promise<{ bytes: Uint8Array; overflow?: number }>;
  /** True while this upstream is known to lack the referrers API (then the tag schema is asked directly). */
  referrersApiAbsent(): boolean;
  /** Count a failure of this upstream that the proxy found (a relayed blob whose bytes do not match its digest). */
  countFailure(error: SigwardError): void;
}

/** The client of each configured upstream, by host (implemented by src/upstream/registry.ts). */
export interface ClientProvider {
  get(host: string): RegistryClient;
}

/** A blob GET that may come back as the upstream's redirect to its storage instead of the bytes (`blobs: redirect`). */
export interface BlobLocator {
  locateBlob(repository: string, digest: Digest, opts?: BlobGetOptions): Promise<BlobStream | BlobRedirect>;
}

/** The clients the /v2/ service uses: blobs may be handed out as redirects. */
export interface BlobClientProvider {
  get(host: string): RegistryClient & BlobLocator;
}
