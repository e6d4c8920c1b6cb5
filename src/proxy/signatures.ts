// Signature discovery for one manifest digest: cosign v3 bundles through the referrers
// API (falling back to the `sha256-<hex>` referrers tag schema), and legacy `sha256-<hex>.sig` images, looked up in
// parallel (or `.sig` first: see discoverSignatures). A 404 means "no signatures"; any other upstream failure means
// "could not verify" (VERIFY_UNAVAILABLE: 503, nothing cached) unless the `.sig` signatures alone meet the policy. Every blob is size-capped and digest-checked before it reaches the verifier.
//
// What the upstream lists never decides what a lookup costs (lookup-bounds.ts): identical layers are one signature
// (cosign's own duplicate detector keeps no two alike) and one blob digest is fetched once; at most `concurrency`
// fetches run at a time; at most `maxSignatures` distinct signatures and `lookupBytes` bytes are read per lookup.
// Signatures past a cap are reported unread (grouped, naming the limit) and the ones within it are still checked:
// a policy only ever counts signatures towards allowing, so an unread signature can turn an allow into a denial but
// never the reverse (fail closed), while a valid signature listed before the junk is still found.
import { DEFAULT_SIGNATURE_LIMITS, type SignatureLimits } from '../config/types.ts';
import { SigwardError, isSigwardError } from '../errors.ts';
import { matchesDigest, type Digest } from '../oci/digest.ts';
import { parseManifest, type Descriptor } from '../oci/manifest.ts';
import { MT } from '../oci/mediatypes.ts';
import { referrersTag, signatureTag } from '../oci/cosign-tags.ts';
import type { UntrustedBundle, UntrustedLegacySignature, UntrustedSignature } from '../verify/types.ts';
import { deferred, FetchPool, LookupBudget, SkipLog, type SkipCause } from './lookup-bounds.ts';
import type { FetchedManifest, RegistryClient } from './types.ts';
import { clip } from '../util/clip.ts';
import type { PayloadShapes } from './payload-shapes.ts';

export interface DiscoveryLimits {
  /** Largest signature layer, bundle blob or referrer manifest fetched. */
  readonly signatureBytes: number;
  /** Most layers in one `.sig` image; more and the image is refused whole, as cosign refuses it (its limit is 1000). */
  readonly maxLayers: number;
  /** Most referrers inspected for one digest. */
  readonly maxReferrers: number;
  /** Most distinct signatures read and verified in one lookup (cosign refuses an image with more than 100). */
  readonly maxSignatures: number;
  /** Most bytes of signature blobs and referrer manifests read in one lookup. */
  readonly lookupBytes: number;
  /** Most upstream requests in flight for one lookup. */
  readonly concurrency: number;
}

/** The `limits.signature*` config, as discovery takes it. */
export function discoveryLimits(l: SignatureLimits): DiscoveryLimits {
  return {
    signatureBytes: l.signatureBytes,
    maxLayers: l.signatureLayers,
    maxReferrers: l.signatureReferrers,
    maxSignatures: l.signaturesPerLookup,
    lookupBytes: l.signatureBytesPerLookup,
    concurrency: l.signatureFetches,
  };
}

export const DEFAULT_DISCOVERY_LIMITS: DiscoveryLimits = discoveryLimits(DEFAULT_SIGNATURE_LIMITS);

/** The config keys (`limits.*`) behind each cap, for messages that name the limit to raise. */
export const LIMIT_KEYS = {
  signatureBytes: 'limits.signatureBytes',
  maxLayers: 'limits.signatureLayers',
  maxReferrers: 'limits.signatureReferrers',
  maxSignatures: 'limits.signaturesPerLookup',
  lookupBytes: 'limits.signatureBytesPerLookup',
  concurrency: 'limits.signatureFetches',
} as const satisfies Record<keyof DiscoveryLimits, string>;

export interface SignatureLocation {
  readonly client: RegistryClient;
  /** `host/repository` shown in messages. */
  readonly display: string;
  readonly repository: string;
  /** Known shapes of legacy payloads: a layer one of them rebuilds is not fetched (payload-shapes.ts). */
  readonly shapes?: PayloadShapes;
  /** The `.sig` manifest of the digest looked up, already asked for (gate.ts askEarly): taken instead of asking. */
  readonly legacyManifest?: Promise<FetchedManifest>;
}

export interface Discovery {
  readonly signatures: UntrustedSignature[];
  /** Formats seen, for the decision log: e.g. ['legacy', 'bundle']. */
  readonly formats: string[];
  /** Problems with individual signature artifacts that could not even be read (counted as rejected). */
  readonly unreadable: { source: string; message: string; overLimit?: true }[];
  /** The `.sig` signatures alone met the policy (the bundle path was then not asked, failed, or was read too). */
  readonly legacyAlone?: true;
}

/** Longest problem text kept per unreadable artifact: parse errors may quote upstream-chosen names. */
const MAX_PROBLEM = 400;

const isNotFound = (e: unknown): boolean =>
  isSigwardError(e) && (e.code === 'MANIFEST_UNKNOWN' || e.code === 'NAME_UNKNOWN' || e.code === 'BLOB_UNKNOWN');

/** Problems with one artifact: it is unreadable (counted as rejected); anything else fails the whole lookup. */
const isArtifactProblem = (e: unknown): e is SigwardError =>
  isSigwardError(e) &&
  (e.code === 'UPSTREAM_TOO_LARGE' ||
    e.code === 'UPSTREAM_DIGEST_MISMATCH' ||
    e.code === 'MANIFEST_INVALID' ||
    isNotFound(e));

function unavailable(what: string, e: unknown): SigwardError {
  if (isSigwardError(e, 'VERIFY_UNAVAILABLE')) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new SigwardError('VERIFY_UNAVAILABLE', `could not look up signatures (${what}): ${msg}`, {
    cause: e,
    reason: 'signature lookup failed upstream',
    ...(isSigwardError(e) && e.retryAfter !== undefined ? { retryAfter: e.retryAfter } : {}),
  });
}

/** Read a blob fully, refusing more than `cap` bytes (or more than its descriptor declares), and check its digest.
 * `onRead` learns how many bytes were read, whatever the outcome (the lookup's byte budget counts them). */
export async function fetchBlobCapped(
  client: RegistryClient,
  repository: string,
  d: Descriptor | { digest: Digest; size?: number },
  cap: number,
  onRead?: (bytes: number) => void,
): Promise<Uint8Array> {
  if (d.size !== undefined && d.size > cap)
    throw new SigwardError(
      'UPSTREAM_TOO_LARGE',
      `blob ${d.digest} is ${d.size} bytes; the limit for signature blobs is ${cap} (${LIMIT_KEYS.signatureBytes})`,
    );
  const { bytes, overflow } = await client.readBlob(repository, d.digest, cap);
  onRead?.(bytes.length);
  if (overflow !== undefined)
    throw new SigwardError('UPSTREAM_TOO_LARGE', `blob ${d.digest} exceeds the ${cap}-byte limit for signature blobs`);
  if (!matchesDigest(bytes, d.digest))
    throw new SigwardError(
      'UPSTREAM_DIGEST_MISMATCH',
      `upstream served bytes for signature blob ${d.digest} that do not match its digest`,
    );
  if (d.size !== undefined && bytes.length > d.size) {
    throw new SigwardError(
      'UPSTREAM_TOO_LARGE',
      `blob ${d.digest} is ${bytes.length} bytes, more than the ${d.size} its descriptor declares`,
    );
  }
  return bytes;
}

/** The state of one lookup: where, its bounds, and what it found. */
class Lookup {
  readonly out: Discovery = { signatures: [], formats: [], unreadable: [] };
  readonly budget: LookupBudget;
  readonly pool: FetchPool;
  readonly skipped: SkipLog;
  /** Resolved once the legacy path has reserved its share: the bundle path reserves after it (a fixed order). */
  readonly legacyPlanned = deferred();
  /** Set once the lookup stops: no fetch starts after (a plain flag; an AbortController builds a DOMException). */
  private readonly stopped = { aborted: false };
  /** Blobs whose bytes are reserved, and their one fetch once started: shared by every layer naming the blob. */
  private readonly reserved = new Set<string>();
  private readonly blobs = new Map<string, Promise<Uint8Array>>();

  constructor(
    readonly loc: SignatureLocation,
    readonly limits: DiscoveryLimits,
  ) {
    this.budget = new LookupBudget(limits.maxSignatures, limits.lookupBytes);
    this.pool = new FetchPool(limits.concurrency, this.stopped);
    this.skipped = new SkipLog({
      signatures: `over ${LIMIT_KEYS.maxSignatures} (${limits.maxSignatures} distinct signatures read per lookup)`,
      bytes: `over ${LIMIT_KEYS.lookupBytes} (${limits.lookupBytes} bytes of signatures read per lookup)`,
    });
  }

  /** Stop starting fetches: the lookup has failed and its result will be thrown away. */
  fail(): void {
    this.stopped.aborted = true;
  }

  unreadable(source: string, e: unknown): void {
    const msg = e instanceof Error ? e.message : String(e);
    this.out.unreadable.push({
      source,
      message: clip(msg, MAX_PROBLEM, { marker: '...', ascii: false }),
    });
  }

  /**
   * Take a signature slot and reserve the bytes of `d` (unless this blob is already reserved). False when a cap says
   * no: the signature is then recorded as skipped. A blob over the per-blob cap still takes its slot (so skipped and
   * unreadable entries stay bounded too) and fails when fetched, without any request being made.
   */
  reserve(source: string, where: string, d: Descriptor): boolean {
    if (!this.budget.takeSignature()) return this.skip(source, 'signatures', where);
    if (d.size > this.limits.signatureBytes || this.reserved.has(blobKey(d))) return true;
    if (!this.budget.takeBytes(d.size)) {
      this.budget.refundSignature();
      return this.skip(source, 'bytes', where);
    }
    this.reserved.add(blobKey(d));
    return true;
  }

  /** One artifact that could not be had: skipped when understated sizes spent the budget, unreadable when it is
   * the artifact's own fault (counted as rejected); any other failure fails the whole lookup. */
  failed(e: unknown, listSource: string, where: string, short: string): void {
    if (e instanceof BudgetSpent) this.skip(listSource, 'bytes', short);
    else if (isArtifactProblem(e)) this.unreadable(where, e);
    else throw unavailable(where, e);
  }

  skip(source: string, cause: SkipCause, where: string): false {
    this.skipped.add(source, cause, where);
    return false;
  }

  /** The bytes of a reserved blob: fetched once per lookup whatever the number of layers naming it. */
  blob(d: Descriptor): Promise<Uint8Array> {
    const key = blobKey(d);
    let p = this.blobs.get(key);
    if (p === undefined) {
      p = this.fetch(async () => {
        if (this.budget.overdrawn) throw new BudgetSpent();
        // Bytes beyond the declared (reserved) size are charged too, whether or not the blob then checks out.
        return fetchBlobCapped(this.loc.client, this.loc.repository, d, this.limits.signatureBytes, (n) => {
          if (n > d.size) this.budget.charge(n - d.size);
        });
      });
      this.blobs.set(key, p);
    }
    return p;
  }

  fetch<T>(fn: () => Promise<T>): Promise<T> {
    return this.pool.run(fn);
  }
}

/** A fetch not started because understated sizes already spent the byte budget. */
class BudgetSpent extends Error {}

const blobKey = (d: Descriptor): string => `${d.digest}|${d.size}`;

/** Layers that are identical (digest, media type, every annotation) are one signature: cosign never appends a layer
 * equal to one already there, so repeats add nothing but work. In manifest order, with their positions. */
function distinctLayers(layers: readonly Descriptor[]): { layer: Descriptor; positions: number[] }[] {
  const byKey = new Map<string, { layer: Descriptor; positions: number[] }>();
  layers.forEach((layer, i) => {
    const annotations = Object.keys(layer.annotations)
      .sort()
      .map((k) => [k, layer.annotations[k]]);
    const key = JSON.stringify([layer.digest, layer.size, layer.mediaType, annotations]);
    const seen = byKey.get(key);
    if (seen) seen.positions.push(i + 1);
    else byKey.set(key, { layer, positions: [i + 1] });
  });
  return [...byKey.values()];
}

function layerName(positions: readonly number[], n: number): string {
  const more = positions.length - 1;
  return `layer ${positions[0]} of ${n}${more === 0 ? '' : ` (and ${more} identical layer${more === 1 ? '' : 's'}, read once)`}`;
}

async function legacySignatures(lk: Lookup, digest: Digest): Promise<void> {
  const { loc, out } = lk;
  const tag = signatureTag(digest);
  const source = `${loc.display}:${tag}`;
  const planned: { layer: Descriptor; where: string; short: string }[] = [];
  try {
    let m;
    try {
      m = await lk.fetch(() => loc.legacyManifest ?? loc.client.getManifest(loc.repository, { kind: 'tag', tag }));
    } catch (e) {
      if (isNotFound(e)) return;
      throw unavailable(source, e);
    }
    out.formats.push('legacy');
    let parsed;
    try {
      parsed = parseManifest(m.bytes, m.mediaType, lk.limits.maxLayers);
    } catch (e) {
      const over =
        isSigwardError(e, 'MANIFEST_INVALID') && /entries \(limit/.test(e.message)
          ? ` (${LIMIT_KEYS.maxLayers}; cosign refuses such images too)`
          : '';
      lk.unreadable(source, new Error(`${e instanceof Error ? e.message : String(e)}${over}`));
      return;
    }
    const n = parsed.layers.length;
    for (const { layer, positions } of distinctLayers(parsed.layers)) {
      const short = `layer ${positions[0]}`;
      if (lk.reserve(source, short, layer))
        planned.push({ layer, where: `${source}, ${layerName(positions, n)}`, short });
    }
  } finally {
    lk.legacyPlanned.resolve();
  }
  await Promise.all(
    planned.map(async ({ layer, where, short }) => {
      try {
        let payload = loc.shapes?.rebuild(loc.display, layer, digest);
        if (payload === undefined) {
          payload = await lk.blob(layer);
          loc.shapes?.learn(loc.display, payload, digest);
        }
        const sig: UntrustedLegacySignature = {
          format: 'legacy',
          source: where,
          layerDigest: layer.digest,
          layerMediaType: layer.mediaType,
          annotations: layer.annotations,
          payload,
        };
        out.signatures.push(sig);
      } catch (e) {
        lk.failed(e, source, where, short);
      }
    }),
  );
}

/** The referrers list: the API, else the tag schema index (OCI distribution spec 1.1 "referrers tag schema"). */
async function referrerDescriptors(lk: Lookup, digest: Digest): Promise<Descriptor[]> {
  const { loc } = lk;
  let bytes: Uint8Array | undefined;
  // An upstream that just answered 404 to the API (it has none) is asked by the tag schema directly.
  if (!loc.client.referrersApiAbsent()) {
    try {
      const a = await lk.fetch(() => loc.client.getReferrers(loc.repository, digest));
      if (a.status === 200 && a.contentType?.split(';')[0]?.trim() === MT.ociIndex) bytes = a.bytes;
    } catch (e) {
      if (!isNotFound(e) && !(isSigwardError(e) && e.code === 'UPSTREAM_INVALID'))
        throw unavailable(`${loc.display} referrers of ${digest}`, e);
    }
  }
  if (bytes === undefined) {
    try {
      bytes = (await lk.fetch(() => loc.client.getManifest(loc.repository, { kind: 'tag', tag: referrersTag(digest) })))
        .bytes;
    } catch (e) {
      if (isNotFound(e)) return [];
      throw unavailable(`${loc.display}:${referrersTag(digest)}`, e);
    }
  }
  const index = parseManifest(bytes, MT.ociIndex, lk.limits.maxReferrers);
  return [...index.manifests];
}

/** A referrer's manifest, if it carries a Sigstore bundle: its one layer. */
async function bundleLayer(lk: Lookup, r: Descriptor): Promise<Descriptor | undefined> {
  if (lk.budget.overdrawn) throw new BudgetSpent();
  const m = await lk.loc.client.getManifest(lk.loc.repository, { kind: 'digest', digest: r.digest });
  if (m.bytes.length > r.size) lk.budget.charge(m.bytes.length - r.size);
  const parsed = parseManifest(m.bytes, m.mediaType, 8);
  const layer = parsed.layers[0];
  if (parsed.layers.length !== 1 || !layer || !layer.mediaType.startsWith(MT.sigstoreBundlePrefix)) return undefined;
  if (!lk.out.formats.includes('bundle')) lk.out.formats.push('bundle');
  return layer;
}

async function bundleSignatures(lk: Lookup, digest: Digest): Promise<void> {
  const { loc, out } = lk;
  const listSource = `${loc.display} referrers of ${digest}`;
  let refs: Descriptor[];
  try {
    refs = await referrerDescriptors(lk, digest);
  } catch (e) {
    if (isSigwardError(e) && e.code === 'MANIFEST_INVALID') {
      lk.unreadable(listSource, e);
      return;
    }
    throw e;
  }
  if (refs.length === 0) return;
  // Query without an artifactType filter and inspect each referrer: ghcr.io lists cosign bundles with the empty
  // artifact type. Attestations of other kinds are skipped cheaply by their layer type.
  // Reservations are made after the legacy path's, in list order, so what fits never depends on timing.
  await lk.legacyPlanned.promise;
  const wanted: { r: Descriptor; source: string }[] = [];
  for (const [i, r] of refs.entries()) {
    const source = `${loc.display}@${r.digest} (referrer)`;
    if (r.size > lk.limits.signatureBytes)
      lk.unreadable(
        source,
        new Error(
          `referrer manifest is ${r.size} bytes; the limit is ${lk.limits.signatureBytes} (${LIMIT_KEYS.signatureBytes})`,
        ),
      );
    else if (!lk.budget.takeBytes(r.size)) lk.skip(listSource, 'bytes', `referrer ${i + 1} of ${refs.length}`);
    else wanted.push({ r, source });
  }
  const layers = await Promise.all(
    wanted.map(async ({ r, source }) => {
      try {
        return await lk.fetch(() => bundleLayer(lk, r));
      } catch (e) {
        lk.failed(e, listSource, source, source);
        return undefined;
      }
    }),
  );
  const planned: { r: Descriptor; source: string; layer: Descriptor }[] = [];
  for (const [i, w] of wanted.entries()) {
    const layer = layers[i];
    if (layer !== undefined && lk.reserve(listSource, w.source, layer)) planned.push({ ...w, layer });
  }
  await Promise.all(
    planned.map(async ({ r, source, layer }) => {
      try {
        const bundle = await lk.blob(layer);
        const sig: UntrustedBundle = { format: 'bundle', source, manifestDigest: r.digest, bundle };
        out.signatures.push(sig);
      } catch (e) {
        lk.failed(e, listSource, source, source);
      }
    }),
  );
}

/** Find every signature of `digest` at `loc`, within `limits`. Throws VERIFY_UNAVAILABLE when the upstream fails.
 *
 * `legacySuffices`, when given, says whether the legacy `.sig` signatures alone meet the policy (a policy only ever
 * counts signatures towards allowing, so what the bundles add cannot change a met policy):
 * - with `legacyFirst` (the repository's last lookup was decided on its `.sig` signatures), the bundle path starts
 *   only when the `.sig` signatures are not enough: one request fewer per cold pull, one round trip more when not;
 * - without it, both paths run at once and both are waited for (no request is left running); a failing bundle path
 *   is then a 503 only when the `.sig` signatures are not enough.
 * Either way the outcome never depends on which answer came first: the legacy signatures are judged on their own. */
export async function discoverSignatures(
  loc: SignatureLocation,
  digest: Digest,
  limits: DiscoveryLimits = DEFAULT_DISCOVERY_LIMITS,
  legacySuffices?: (legacy: readonly UntrustedSignature[]) => boolean,
  legacyFirst = false,
): Promise<Discovery> {
  const lk = new Lookup(loc, limits);
  const watch = <T>(p: Promise<T>): Promise<T> =>
    p.catch((e: unknown) => {
      lk.fail();
      throw e;
    });
  const legacy = watch(legacySignatures(lk, digest));
  if (legacySuffices === undefined) {
    await Promise.all([watch(bundleSignatures(lk, digest)), legacy]);
    return finish(lk.out, lk, () => true);
  }
  // A failing bundle path does not cut the legacy path short: it is thrown only when the legacy signatures are not
  // enough.
  const startBundles = (): Promise<{ e: unknown } | undefined> =>
    bundleSignatures(lk, digest).then(
      () => undefined,
      (e: unknown) => ({ e }),
    );
  let bundles = legacyFirst ? undefined : startBundles();
  await legacy;
  // Only the legacy path's findings: bundle signatures that happen to be in already are left out (timing-free).
  const legacyOnly = sorted(lk.out.signatures.filter((x) => x.format === 'legacy'));
  const suffices = legacyOnly.length > 0 && legacySuffices(legacyOnly);
  const legacyAlone = (): Discovery => ({
    ...finish(
      { signatures: legacyOnly, formats: ['legacy'], unreadable: lk.out.unreadable },
      lk,
      (source) => !isBundleSource(source),
    ),
    legacyAlone: true,
  });
  if (suffices && bundles === undefined) return legacyAlone();
  bundles ??= startBundles();
  const failed = await bundles;
  if (failed !== undefined) {
    if (suffices) return legacyAlone();
    lk.fail();
    throw failed.e;
  }
  return { ...finish(lk.out, lk, () => true), ...(suffices && { legacyAlone: true as const }) };
}

/** Whether a problem's source names the bundle path (a referrers list or a referrer), not a `.sig` image: the
 * spaces cannot occur in a repository name or tag. */
export function isBundleSource(source: string): boolean {
  return source.endsWith(' (referrer)') || source.includes(' referrers of ');
}

/** Deterministic order for messages and tests: bundles first, then legacy layers, each by source (layer numbers
 * compared as numbers). */
function sorted(sigs: readonly UntrustedSignature[]): UntrustedSignature[] {
  return [...sigs].sort((a, b) =>
    a.format === b.format ? a.source.localeCompare(b.source, 'en', { numeric: true }) : a.format === 'bundle' ? -1 : 1,
  );
}

function finish(out: Discovery, lk: Lookup, keep: (source: string) => boolean): Discovery {
  const unreadable = [...out.unreadable, ...lk.skipped.entries()].filter((u) => keep(u.source));
  unreadable.sort((a, b) => a.source.localeCompare(b.source, 'en', { numeric: true }));
  return { signatures: sorted(out.signatures), formats: [...out.formats], unreadable };
}
