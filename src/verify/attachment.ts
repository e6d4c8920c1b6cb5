// Proof that a signature artifact is inert. sigward serves cosign's `.sig`/`.att`/`.sbom` images and referrer
// artifacts without a signature of their own (cosign and podman verify through sigward), which is only safe when no
// runtime can obtain a filesystem from them. Declared layer types prove nothing (podman sniffs the bytes, and a tar
// can be declared as anything), so every layer's bytes must really be the document its type names, and not an
// archive. Pure: the caller fetches the blobs (capped, digest-checked) and hands them in.
import { archiveKind } from '../oci/archive.ts';
import { matchesDigest } from '../oci/digest.ts';
import { parseStrictJson } from '../oci/json-strict.ts';
import type { ParsedManifest } from '../oci/manifest.ts';
import { MT } from '../oci/mediatypes.ts';
import { parseDsseEnvelope } from './dsse.ts';
import { IN_TOTO_PAYLOAD_TYPE } from './dsse.ts';
import { isObject } from './outcome.ts';
import { parseSimpleSigning } from './simple-signing.ts';

/** Checks one layer's bytes against the document its type names; a problem, or undefined when it is one. */
type DocumentCheck = (bytes: Uint8Array) => string | undefined;

function jsonObject(bytes: Uint8Array): { value?: Record<string, unknown>; problem?: string } {
  const j = parseStrictJson(bytes);
  if (!j.ok) return { problem: `it ${j.problem}` };
  return isObject(j.value) ? { value: j.value } : { problem: 'it is JSON but not an object' };
}

const simpleSigning: DocumentCheck = (b) => {
  const p = parseSimpleSigning(b);
  return p.ok ? undefined : `it is not a simple-signing payload: payload ${p.problem}`;
};
const dsse: DocumentCheck = (b) => {
  const j = jsonObject(b);
  if (j.value === undefined) return `it is not a DSSE envelope: ${j.problem}`;
  const p = parseDsseEnvelope(j.value);
  return p.ok ? undefined : `it is not a DSSE envelope: ${p.problem}`;
};
const bundle: DocumentCheck = (b) => {
  const j = jsonObject(b);
  if (j.value === undefined) return `it is not a Sigstore bundle: ${j.problem}`;
  const mt = j.value['mediaType'];
  return typeof mt === 'string' && mt.startsWith(MT.sigstoreBundlePrefix)
    ? undefined
    : 'it is not a Sigstore bundle: its mediaType is not a bundle type';
};
const inToto: DocumentCheck = (b) => {
  const j = jsonObject(b);
  if (j.value === undefined) return `it is not an in-toto statement: ${j.problem}`;
  return typeof j.value['_type'] === 'string' ? undefined : 'it is not an in-toto statement: no _type';
};
const anyJson: DocumentCheck = (b) => {
  const j = parseStrictJson(b);
  return j.ok ? undefined : `it is not JSON: it ${j.problem}`;
};
const utf8 = new TextDecoder('utf-8', { fatal: true });
const text: DocumentCheck = (b) => {
  let s: string;
  try {
    s = utf8.decode(b);
  } catch {
    return 'it is not UTF-8 text';
  }
  // Controls other than tab, LF and CR (NUL above all) do not occur in text documents; they do in archives.
  // eslint-disable-next-line no-control-regex -- matching control characters is this check's purpose
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(s)
    ? 'it is not text: it holds control bytes'
    : undefined;
};

/** Layer types of signatures, attestations, bundles and SBOMs (cosign `attach sbom`, `attest`), each with the
 * check its bytes must pass. Anything else is not an attachment. */
const DOCUMENTS: ReadonlyMap<string, DocumentCheck> = new Map([
  [MT.cosignSimpleSigning, simpleSigning],
  [MT.dsseEnvelope, dsse],
  [IN_TOTO_PAYLOAD_TYPE, inToto],
  ['application/spdx+json', anyJson],
  ['application/vnd.cyclonedx+json', anyJson],
  ['application/vnd.syft+json', anyJson],
  ['text/spdx', text],
  ['text/spdx+xml', text],
  ['application/vnd.cyclonedx', text],
  ['application/vnd.cyclonedx+xml', text],
]);

/** Sigstore bundle layer types: cosign writes `application/vnd.dev.sigstore.bundle.v0.3+json`; sigstore-go also reads
 * `application/vnd.dev.sigstore.bundle+json;version=0.N`. */
const BUNDLE_LAYER_RE = /^application\/vnd\.dev\.sigstore\.bundle(\.v0\.\d+\+json|\+json;\s*version=0\.\d+)$/;

function checkFor(mediaType: string): DocumentCheck | undefined {
  if (BUNDLE_LAYER_RE.test(mediaType)) return bundle;
  return DOCUMENTS.get(mediaType);
}

const IMAGE_MANIFEST_TYPES: readonly string[] = [MT.ociManifest, MT.dockerManifest];

/** Does this manifest claim to be an attachment (an image manifest whose every layer has an attachment type)? Only
 * a claim: `attachmentProblem` decides, from the bytes. */
export function claimsAttachment(m: ParsedManifest): boolean {
  return (
    m.kind === 'image' &&
    IMAGE_MANIFEST_TYPES.includes(m.mediaType) &&
    m.layers.length > 0 &&
    m.layers.every((l) => checkFor(l.mediaType) !== undefined)
  );
}

/** Why `m` is not a proven-inert attachment, or undefined when it is: it claims to be one, and every layer's blob
 * (from `blobs`, by digest) has the declared size and digest, is not an archive, and is the document its type names. */
export function attachmentProblem(m: ParsedManifest, blobs: ReadonlyMap<string, Uint8Array>): string | undefined {
  if (!claimsAttachment(m))
    return 'it is not an image manifest whose every layer is a signature, attestation or SBOM type';
  for (const [i, layer] of m.layers.entries()) {
    const where = `layer ${i + 1} (${layer.mediaType}, ${layer.digest})`;
    const bytes = blobs.get(layer.digest);
    if (bytes === undefined) return `${where} was not read`;
    if (bytes.length !== layer.size)
      return `${where} is ${bytes.length} bytes, not the ${layer.size} its descriptor says`;
    if (!matchesDigest(bytes, layer.digest)) return `${where} does not match its digest`;
    const archive = archiveKind(bytes);
    if (archive !== undefined) return `${where} is ${archive}, which a runtime could unpack`;
    const problem = (checkFor(layer.mediaType) as DocumentCheck)(bytes);
    if (problem !== undefined) return `${where}: ${problem}`;
  }
  return undefined;
}
