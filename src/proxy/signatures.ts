// Signature discovery for one manifest digest (cosign-formats.md §1, §7.4): cosign v3 bundles through the referrers
// API (falling back to the `sha256-<hex>` referrers tag schema), and legacy `sha256-<hex>.sig` images, looked up in
// parallel. A 404 means "no signatures"; any other upstream failure means "could not verify" (VERIFY_UNAVAILABLE:
// 503, nothing cached). Every blob is size-capped and digest-checked before it reaches the verifier.
import { SigwardError, isSigwardError } from '../errors.ts';
import { matchesDigest, type Digest } from '../oci/digest.ts';
import { parseManifest, type Descriptor } from '../oci/manifest.ts';
import { MT } from '../oci/mediatypes.ts';
import { referrersTag, signatureTag } from '../oci/cosign-tags.ts';
import type { UntrustedBundle, UntrustedLegacySignature, UntrustedSignature } from '../verify/types.ts';
import type { RegistryClient } from './types.ts';

export interface DiscoveryLimits {
  /** Largest signature layer or bundle blob fetched. */
  readonly signatureBytes: number;
  /** Most signature layers walked in one `.sig` image (cosign's own limit is 1000). */
  readonly maxLayers: number;
  /** Most referrers inspected for one digest. */
  readonly maxReferrers: number;
}

export const DEFAULT_DISCOVERY_LIMITS: DiscoveryLimits = { signatureBytes: 1024 * 1024, maxLayers: 1000, maxReferrers: 128 };

export interface SignatureLocation {
  readonly client: RegistryClient;
  /** `host/repository` shown in messages. */
  readonly display: string;
  readonly repository: string;
}

export interface Discovery {
  readonly signatures: UntrustedSignature[];
  /** Formats seen, for the decision log: e.g. ['legacy', 'bundle']. */
  readonly formats: string[];
  /** Problems with individual signature artifacts that could not even be read (counted as rejected). */
  readonly unreadable: { source: string; message: string }[];
}

const isNotFound = (e: unknown): boolean =>
  isSigwardError(e) && (e.code === 'MANIFEST_UNKNOWN' || e.code === 'NAME_UNKNOWN' || e.code === 'BLOB_UNKNOWN');

function unavailable(what: string, e: unknown): SigwardError {
  const msg = e instanceof Error ? e.message : String(e);
  return new SigwardError('VERIFY_UNAVAILABLE', `could not look up signatures (${what}): ${msg}`, {
    cause: e,
    reason: 'signature lookup failed upstream',
    ...(isSigwardError(e) && e.retryAfter !== undefined ? { retryAfter: e.retryAfter } : {}),
  });
}

/** Read a blob fully, refusing more than `cap` bytes, and check its digest. */
export async function fetchBlobCapped(client: RegistryClient, repository: string, d: Descriptor | { digest: Digest; size?: number }, cap: number): Promise<Uint8Array> {
  if (d.size !== undefined && d.size > cap) throw new SigwardError('UPSTREAM_TOO_LARGE', `blob ${d.digest} is ${d.size} bytes; the limit for signature blobs is ${cap}`);
  const { bytes, overflow } = await client.readBlob(repository, d.digest, cap);
  if (overflow !== undefined) throw new SigwardError('UPSTREAM_TOO_LARGE', `blob ${d.digest} exceeds the ${cap}-byte limit for signature blobs`);
  if (!matchesDigest(bytes, d.digest)) throw new SigwardError('UPSTREAM_DIGEST_MISMATCH', `upstream served bytes for signature blob ${d.digest} that do not match its digest`);
  return bytes;
}

async function legacySignatures(loc: SignatureLocation, digest: Digest, limits: DiscoveryLimits, out: Discovery): Promise<void> {
  const tag = signatureTag(digest);
  let m;
  try {
    m = await loc.client.getManifest(loc.repository, { kind: 'tag', tag });
  } catch (e) {
    if (isNotFound(e)) return;
    throw unavailable(`${loc.display}:${tag}`, e);
  }
  out.formats.push('legacy');
  const source = `${loc.display}:${tag}`;
  let parsed;
  try {
    parsed = parseManifest(m.bytes, m.mediaType, limits.maxLayers);
  } catch (e) {
    out.unreadable.push({ source, message: e instanceof Error ? e.message : String(e) });
    return;
  }
  const n = parsed.layers.length;
  await Promise.all(
    parsed.layers.map(async (layer, i) => {
      const where = `${source}, layer ${i + 1} of ${n}`;
      try {
        const payload = await fetchBlobCapped(loc.client, loc.repository, layer, limits.signatureBytes);
        const sig: UntrustedLegacySignature = { format: 'legacy', source: where, layerDigest: layer.digest, layerMediaType: layer.mediaType, annotations: layer.annotations, payload };
        out.signatures.push(sig);
      } catch (e) {
        if (isSigwardError(e) && (e.code === 'UPSTREAM_TOO_LARGE' || e.code === 'UPSTREAM_DIGEST_MISMATCH' || isNotFound(e))) {
          out.unreadable.push({ source: where, message: e.message });
          return;
        }
        throw unavailable(where, e);
      }
    }),
  );
}

/** The referrers list: the API, else the tag schema index (OCI distribution spec 1.1 "referrers tag schema"). */
async function referrerDescriptors(loc: SignatureLocation, digest: Digest, limits: DiscoveryLimits): Promise<Descriptor[]> {
  let bytes: Uint8Array | undefined;
  // An upstream that just answered 404 to the API (it has none) is asked by the tag schema directly.
  if (!loc.client.referrersApiAbsent()) {
    try {
      const a = await loc.client.getReferrers(loc.repository, digest);
      if (a.status === 200 && a.contentType?.split(';')[0]?.trim() === MT.ociIndex) bytes = a.bytes;
    } catch (e) {
      if (!isNotFound(e) && !(isSigwardError(e) && e.code === 'UPSTREAM_INVALID')) throw unavailable(`${loc.display} referrers of ${digest}`, e);
    }
  }
  if (bytes === undefined) {
    try {
      bytes = (await loc.client.getManifest(loc.repository, { kind: 'tag', tag: referrersTag(digest) })).bytes;
    } catch (e) {
      if (isNotFound(e)) return [];
      throw unavailable(`${loc.display}:${referrersTag(digest)}`, e);
    }
  }
  const index = parseManifest(bytes, MT.ociIndex, limits.maxReferrers);
  return [...index.manifests];
}

async function bundleSignatures(loc: SignatureLocation, digest: Digest, limits: DiscoveryLimits, out: Discovery): Promise<void> {
  let refs: Descriptor[];
  try {
    refs = await referrerDescriptors(loc, digest, limits);
  } catch (e) {
    if (isSigwardError(e) && e.code === 'MANIFEST_INVALID') {
      out.unreadable.push({ source: `${loc.display} referrers of ${digest}`, message: e.message });
      return;
    }
    throw e;
  }
  // Query without an artifactType filter and inspect each referrer: ghcr.io lists cosign bundles with the empty
  // artifact type (cosign-formats.md §7.4). Attestations of other kinds are skipped cheaply by their layer type.
  await Promise.all(
    refs.map(async (r) => {
      const source = `${loc.display}@${r.digest} (referrer)`;
      try {
        const m = await loc.client.getManifest(loc.repository, { kind: 'digest', digest: r.digest });
        const parsed = parseManifest(m.bytes, m.mediaType, 8);
        const layer = parsed.layers[0];
        if (parsed.layers.length !== 1 || !layer || !layer.mediaType.startsWith(MT.sigstoreBundlePrefix)) return;
        if (!out.formats.includes('bundle')) out.formats.push('bundle');
        const bundle = await fetchBlobCapped(loc.client, loc.repository, layer, limits.signatureBytes);
        const sig: UntrustedBundle = { format: 'bundle', source, manifestDigest: r.digest, bundle };
        out.signatures.push(sig);
      } catch (e) {
        if (isSigwardError(e) && (e.code === 'UPSTREAM_TOO_LARGE' || e.code === 'UPSTREAM_DIGEST_MISMATCH' || e.code === 'MANIFEST_INVALID' || isNotFound(e))) {
          out.unreadable.push({ source, message: e.message });
          return;
        }
        throw unavailable(source, e);
      }
    }),
  );
}

/** Find every signature of `digest` at `loc`. Throws VERIFY_UNAVAILABLE when the upstream fails. */
export async function discoverSignatures(loc: SignatureLocation, digest: Digest, limits: DiscoveryLimits = DEFAULT_DISCOVERY_LIMITS): Promise<Discovery> {
  const out: Discovery = { signatures: [], formats: [], unreadable: [] };
  await Promise.all([bundleSignatures(loc, digest, limits, out), legacySignatures(loc, digest, limits, out)]);
  // Deterministic order for messages and tests: bundles first, then legacy layers, each by source.
  out.signatures.sort((a, b) => (a.format === b.format ? a.source.localeCompare(b.source, 'en') : a.format === 'bundle' ? -1 : 1));
  return out;
}
