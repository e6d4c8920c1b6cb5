// What the proxy layer needs from the upstream layer (implemented by src/upstream/client.ts).
import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.ts';
import type { ManifestReference } from '../oci/reference.ts';

export interface FetchedManifest {
  /** The exact bytes received; digest was computed over them. */
  readonly bytes: Uint8Array;
  readonly digest: Digest;
  readonly mediaType: string;
  readonly size: number;
}

export interface BlobStream {
  readonly status: 200 | 206;
  readonly headers: Record<string, string>;
  readonly size?: number;
  readonly body: Readable;
}

export interface ListAnswer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly bytes: Uint8Array;
  readonly link?: string;
}

export interface RegistryClient {
  getManifest(repository: string, ref: ManifestReference, opts?: { accept?: ReadonlySet<string>; signal?: AbortSignal }): Promise<FetchedManifest>;
  getBlob(repository: string, digest: Digest, opts?: { range?: string; signal?: AbortSignal }): Promise<BlobStream>;
  headBlob(repository: string, digest: Digest): Promise<{ size?: number; headers: Record<string, string> }>;
  getTags(repository: string, query: { n?: string; last?: string }): Promise<ListAnswer>;
  getReferrers(repository: string, digest: Digest, artifactType?: string): Promise<ListAnswer>;
}
