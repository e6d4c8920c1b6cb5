// Sign images in a real registry exactly as cosign lays signatures out, with the project's own signer (src/sign/):
// legacy `sha256-<hex>.sig` images, and cosign v3 bundles as OCI 1.1 referrers indexed through the referrers tag
// schema (distribution 2.8 has no referrers API). pushLegacySignature and pushBundleReferrer lay out signatures made
// elsewhere (the keyless ones of test-sigstore.ts) the same way.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { simpleSigningPayload, type OptionalValue } from '../../src/sign/payload.ts';
import { buildLegacySignatureImage, type LegacyLayerInput } from '../../src/sign/legacy-image.ts';
import {
  buildBundleReferrer,
  buildDsseBundle,
  buildReferrersTagIndex,
  cosignSignStatement,
} from '../../src/sign/bundle.ts';
import { publicKeyPem, signBytes } from '../../src/sign/signer.ts';
import { signatureTag, referrersTag } from '../../src/oci/cosign-tags.ts';
import type { Digest } from '../../src/oci/digest.ts';
import { COSIGN_SIGN_PREDICATE } from '../../src/verify/intoto.ts';
import { pushBlob, pushManifest, type RegistryTarget } from './images.ts';

export interface TestKey {
  readonly name: string;
  readonly privateKey: KeyObject;
  readonly publicPem: string;
}

export function newKey(name: string, type: 'ec' | 'ed25519' | 'rsa' = 'ec'): TestKey {
  const pair =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519');
  return { name, privateKey: pair.privateKey, publicPem: publicKeyPem(pair.publicKey) };
}

export interface LegacySignOptions {
  /** Who signs each layer; one layer per key. */
  readonly keys: readonly TestKey[];
  /** The digest the payload claims (default: the one being signed; set another to model a replayed signature). */
  readonly claimedDigest?: string;
  readonly dockerReference?: string;
  readonly annotations?: Readonly<Record<string, OptionalValue>>;
  /** Change the payload AFTER signing (tampering). */
  readonly tamper?: boolean;
  /** Push to this repository instead (cosign's COSIGN_REPOSITORY). */
  readonly signatureRepository?: string;
}

/** Push a legacy `.sig` image for `digest` into `repo`. Returns the signature manifest digest. */
export async function signLegacy(
  reg: RegistryTarget,
  repo: string,
  digest: string,
  opts: LegacySignOptions,
): Promise<string> {
  const layers: LegacyLayerInput[] = opts.keys.map((k) => {
    const payload = simpleSigningPayload({
      dockerReference: opts.dockerReference ?? `example.test/${repo}`,
      digest: opts.claimedDigest ?? digest,
      optional: opts.annotations ?? null,
    });
    const signature = signBytes(k.privateKey, payload);
    const stored = opts.tamper
      ? Buffer.from(Buffer.from(payload).toString().replace('"critical"', '"critical" '))
      : payload;
    return { payload: stored, signature };
  });
  return pushLegacySignature(reg, opts.signatureRepository ?? repo, digest, layers);
}

/** Push a `.sig` image of already-signed `layers` (payload, signature, annotations such as a keyless signature's
 * certificate, chain and Rekor bundle) for `digest` into `repo`, laid out as cosign writes it. Returns its digest. */
export async function pushLegacySignature(
  reg: RegistryTarget,
  repo: string,
  digest: string,
  layers: readonly LegacyLayerInput[],
): Promise<string> {
  const img = buildLegacySignatureImage({ layers });
  await pushBlob(reg, repo, img.config.bytes, img.config.digest);
  for (const l of img.layers) await pushBlob(reg, repo, l.bytes, l.digest);
  await pushManifest(reg, repo, signatureTag(digest as Digest), Buffer.from(img.manifest), img.manifestMediaType);
  return img.manifestDigest;
}

/** One entry of a referrers tag index. */
export interface ReferrerEntry {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
}

/** A pushed referrer's manifest digest and the index entries now listed under the subject's referrers tag. */
export interface PushedReferrer {
  referrer: string;
  entries: ReferrerEntry[];
}

export interface BundleSignOptions {
  readonly key: TestKey;
  readonly subject: { mediaType: string; size: number; digest: string };
  readonly annotations?: Readonly<Record<string, string>>;
  readonly predicateType?: string;
  /** The digest the statement names (default: the subject's). */
  readonly statementDigest?: string;
}

/** Push a cosign v3 bundle referrer for `subject` and (re)write the `sha256-<hex>` referrers tag index listing it
 * together with `existing` entries. Returns the referrer manifest digest and the index entries now listed. */
export async function signBundle(
  reg: RegistryTarget,
  repo: string,
  opts: BundleSignOptions,
  existing: ReferrerEntry[] = [],
): Promise<PushedReferrer> {
  const predicateType = opts.predicateType ?? COSIGN_SIGN_PREDICATE;
  const statement = cosignSignStatement({
    digest: (opts.statementDigest ?? opts.subject.digest) as Digest,
    annotations: opts.annotations ?? {},
    predicateType,
  });
  const bundle = buildDsseBundle({ statement, privateKey: opts.key.privateKey });
  return pushBundleReferrer(reg, repo, bundle, opts.subject, existing, predicateType);
}

/** Push `bundle` (a bundle JSON, signed any way) as a cosign v3 referrer of `subject` and (re)write the
 * `sha256-<hex>` referrers tag index listing it together with `existing` entries. */
export async function pushBundleReferrer(
  reg: RegistryTarget,
  repo: string,
  bundle: Uint8Array,
  subject: BundleSignOptions['subject'],
  existing: ReferrerEntry[] = [],
  predicateType = COSIGN_SIGN_PREDICATE,
): Promise<PushedReferrer> {
  const ref = buildBundleReferrer({ bundle, subject, created: '2026-11-22T00:00:00Z', predicateType });
  await pushBlob(reg, repo, ref.config.bytes, ref.config.digest);
  await pushBlob(reg, repo, ref.layer.bytes, ref.layer.digest);
  await pushManifest(
    reg,
    repo,
    ref.manifestDigest,
    Buffer.from(ref.manifest),
    'application/vnd.oci.image.manifest.v1+json',
  );
  const entries = [
    ...existing,
    {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: ref.manifestDigest,
      size: ref.manifest.length,
      artifactType: ref.artifactType,
    },
  ];
  const index = buildReferrersTagIndex(entries);
  await pushManifest(
    reg,
    repo,
    referrersTag(subject.digest as Digest),
    Buffer.from(index.index),
    'application/vnd.oci.image.index.v1+json',
  );
  return { referrer: ref.manifestDigest, entries };
}
