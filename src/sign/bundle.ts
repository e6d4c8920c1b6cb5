// New-format (cosign v3) signatures: an in-toto statement in a DSSE envelope inside a Sigstore bundle v0.3,
// stored as the single layer of an OCI 1.1 referrer manifest. Key-signed only:
// `publicKey.hint`, no tlog entries, no timestamps (this build does not talk to Rekor or a TSA).
import type { KeyObject } from 'node:crypto';
import { digestOf, digestAlgorithm, digestHex, type Digest } from '../oci/digest.ts';
import { MT } from '../oci/mediatypes.ts';
import { dssePae, IN_TOTO_PAYLOAD_TYPE } from '../verify/dsse.ts';
import { COSIGN_SIGN_PREDICATE } from '../verify/intoto.ts';
import { goArray, goNumber, goString, goStringMap, goStruct, utf8 } from './go-json.ts';
import { descriptor, type BuiltBlob, type DescriptorFields } from './legacy-image.ts';
import { keyHint, signBytes, toBase64 } from './signer.ts';

export interface StatementInput {
  readonly digest: Digest;
  /** Subject annotations (cosign `-a k=v`). */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Default: cosign's sign predicate. Other values model attestations (SBOM, provenance). */
  readonly predicateType?: string;
  /** Emit `"predicate":{}` as cosign >= v3.0.5 does (default true); false reproduces older v3 output. */
  readonly emptyPredicate?: boolean;
  /** Default Statement v1. */
  readonly statementType?: string;
}

/** The statement cosign v3 `sign` writes, compact, in protojson field order (_type, subject, predicateType,
 * predicate; subject: digest, annotations). Strings here are ASCII in practice; Go-escaped for determinism. */
export function cosignSignStatement(input: StatementInput): Uint8Array {
  const alg = digestAlgorithm(input.digest);
  const subject = goStruct([
    ['digest', goStringMap({ [alg]: digestHex(input.digest) })],
    ['annotations', goStringMap(input.annotations ?? {})],
  ]);
  return utf8(
    goStruct([
      ['_type', goString(input.statementType ?? 'https://in-toto.io/Statement/v1')],
      ['subject', goArray([subject])],
      ['predicateType', goString(input.predicateType ?? COSIGN_SIGN_PREDICATE)],
      ['predicate', input.emptyPredicate === false ? undefined : goStruct([])],
    ]),
  );
}

export interface DsseBundleInput {
  readonly statement: Uint8Array;
  readonly privateKey: KeyObject;
  /** Default in-toto. */
  readonly payloadType?: string;
  /** Default: cosign's hint for the key (base64 SHA-256 of the SPKI). `''` omits it. */
  readonly hint?: string;
}

/** A v0.3 bundle JSON (protojson member order: mediaType, verificationMaterial, dsseEnvelope). */
export function buildDsseBundle(input: DsseBundleInput): Uint8Array {
  const payloadType = input.payloadType ?? IN_TOTO_PAYLOAD_TYPE;
  const sig = signBytes(input.privateKey, dssePae(payloadType, input.statement));
  const hint = input.hint ?? keyHint(input.privateKey);
  return utf8(
    goStruct([
      ['mediaType', goString(MT.sigstoreBundleV03)],
      [
        'verificationMaterial',
        goStruct([['publicKey', goStruct([['hint', hint === '' ? undefined : goString(hint)]])]]),
      ],
      [
        'dsseEnvelope',
        goStruct([
          ['payload', goString(toBase64(input.statement))],
          ['payloadType', goString(payloadType)],
          ['signatures', goArray([goStruct([['sig', goString(toBase64(sig))]])])],
        ]),
      ],
    ]),
  );
}

/** The 2-byte empty config `{}` every referrer manifest points at. */
export const EMPTY_CONFIG = new Uint8Array([0x7b, 0x7d]);

export interface ReferrerInput {
  readonly bundle: Uint8Array;
  /** The signed manifest, as cosign gets it from a HEAD request. */
  readonly subject: { readonly mediaType: string; readonly size: number; readonly digest: string };
  /** `org.opencontainers.image.created`: RFC 3339 UTC, seconds (cosign's format). */
  readonly created: string;
  readonly predicateType: string;
}

export interface ReferrerManifest {
  readonly manifest: Uint8Array;
  readonly manifestDigest: Digest;
  readonly config: BuiltBlob;
  readonly layer: BuiltBlob;
  readonly artifactType: string;
}

/** cosign pkg/oci/remote/write.go WriteReferrer: ggcr manifest order schemaVersion, mediaType, config (with
 * artifactType), layers, annotations (sorted), subject, artifactType. */
export function buildBundleReferrer(input: ReferrerInput): ReferrerManifest {
  const artifactType = MT.sigstoreBundleV03;
  const config: BuiltBlob = { mediaType: MT.ociEmpty, digest: digestOf(EMPTY_CONFIG), size: 2, bytes: EMPTY_CONFIG };
  const layer: BuiltBlob = {
    mediaType: artifactType,
    digest: digestOf(input.bundle),
    size: input.bundle.length,
    bytes: input.bundle,
  };
  const manifest = utf8(
    goStruct([
      ['schemaVersion', goNumber(2)],
      ['mediaType', goString(MT.ociManifest)],
      ['config', descriptor({ ...config, artifactType })],
      ['layers', goArray([descriptor(layer)])],
      [
        'annotations',
        goStringMap({
          'org.opencontainers.image.created': input.created,
          'dev.sigstore.bundle.content': 'dsse-envelope',
          'dev.sigstore.bundle.predicateType': input.predicateType,
        }),
      ],
      ['subject', descriptor(input.subject)],
      ['artifactType', goString(artifactType)],
    ]),
  );
  return { manifest, manifestDigest: digestOf(manifest), config, layer, artifactType };
}

/** An index entry. ggcr adds a referrer without annotations; entries already listed keep theirs (ggcr decodes the
 * index and encodes it again with the new entry). */
export type IndexEntry = DescriptorFields;

/** The referrers tag-schema index (`sha256-<hex>` tag) as ggcr maintains it: entries sorted by digest, duplicates by
 * digest skipped. */
export function buildReferrersTagIndex(entries: readonly IndexEntry[]): {
  readonly index: Uint8Array;
  readonly digest: Digest;
} {
  const unique = [...new Map(entries.map((e) => [e.digest, e])).values()].sort((a, b) =>
    a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0,
  );
  const manifests = unique.map((e) => descriptor(e));
  const index = utf8(
    goStruct([
      ['schemaVersion', goNumber(2)],
      ['mediaType', goString(MT.ociIndex)],
      ['manifests', goArray(manifests)],
    ]),
  );
  return { index, digest: digestOf(index) };
}
