// `sigward sign --format legacy`: the signature goes into the `sha256-<hex>.sig` image as cosign writes it
// (pkg/oci/mutate/signatures.go AppendSignatures; pkg/cosign/remote/remote.go, the duplicate detector). An existing
// .sig image is appended to: its layers are kept, in order, with their annotations, and the new layer goes last; a
// layer with the same payload and no other annotations whose signature verifies with the signer's key is the same
// signature already, and nothing is written. The image is laid out by src/sign/legacy-image.ts, byte for byte as
// cosign lays it (manifest media type and `created` of the existing image kept), and the tag is moved last, so a
// failure leaves the previous .sig image in place.
import type { KeyObject } from 'node:crypto';
import { SigwardError } from '../errors.ts';
import { signatureTag } from '../oci/cosign-tags.ts';
import { matchesDigest, type Digest } from '../oci/digest.ts';
import { parseManifest, type Descriptor } from '../oci/manifest.ts';
import { MT } from '../oci/mediatypes.ts';
import type { Registry } from '../registry-write/connect.ts';
import { isAbsent } from '../registry-write/referrers.ts';
import { buildLegacySignatureImage, type BuiltBlob, type LegacyLayerInput } from '../sign/legacy-image.ts';
import { publicKeyPem, signBytes } from '../sign/signer.ts';
import type { FetchedManifest } from '../upstream/client.ts';
import { parsePublicKey } from '../verify/keys.ts';
import { ANNOTATION } from '../verify/legacy.ts';
import { decodeStdBase64, verifyMessage } from '../verify/signature-bytes.ts';

/** cosign refuses a .sig image with more layers (pkg/oci/mutate/signatures.go, maxLayers). */
export const MAX_SIGNATURE_LAYERS = 1000;

export interface LegacyResult {
  readonly tag: string;
  /** The .sig manifest's digest after the command (unchanged when the signature was there already). */
  readonly digest: Digest;
  readonly layers: number;
  readonly added: boolean;
  /** The existing image was not in cosign's layout and was laid out again (its layers kept). */
  readonly relaid: boolean;
}

/** Sign `payload` and put it into `repository`'s .sig image for `subject`. */
export async function pushLegacySignature(
  reg: Registry,
  repository: string,
  subject: Digest,
  payload: Uint8Array,
  privateKey: KeyObject,
): Promise<LegacyResult> {
  const tag = signatureTag(subject);
  let existing: FetchedManifest | undefined;
  try {
    existing = await reg.reader.getManifest(repository, { kind: 'tag', tag });
  } catch (e) {
    if (!isAbsent(e)) throw e;
  }
  const base = existing === undefined ? undefined : await readExisting(reg, repository, tag, existing);
  const signer = parsePublicKey('signer', publicKeyPem(privateKey));
  const samePayload = (l: LegacyLayerInput): boolean =>
    Buffer.from(l.payload).equals(Buffer.from(payload)) && Object.keys(l.annotations ?? {}).length === 0;
  const same = base?.layers.find((l) => {
    if (!samePayload(l)) return false;
    const sig = decodeStdBase64(String(l.signature));
    return sig.ok && verifyMessage(signer, l.payload, sig.value) !== undefined;
  });
  if (existing !== undefined && base !== undefined && same !== undefined) {
    return { tag, digest: existing.digest, layers: base.layers.length, added: false, relaid: false };
  }
  if ((base?.layers.length ?? 0) >= MAX_SIGNATURE_LAYERS) {
    throw new SigwardError(
      'CONFLICT',
      `${reg.host}/${repository}:${tag} has ${MAX_SIGNATURE_LAYERS} signatures already, cosign's limit; nothing was written`,
    );
  }
  const layers = [...(base?.layers ?? []), { payload, signature: signBytes(privateKey, payload) }];
  const image = buildLegacySignatureImage({
    layers,
    ...(base?.docker ? { dockerMediaTypes: true } : {}),
    ...(base?.created === undefined ? {} : { created: base.created }),
  });
  for (const blob of [image.config, ...image.layers]) await pushBuilt(reg, repository, blob);
  await reg.writer.putManifest(repository, tag, image.manifest, image.manifestMediaType);
  return { tag, digest: image.manifestDigest, layers: layers.length, added: true, relaid: base?.relaid ?? false };
}

export async function pushBuilt(reg: Registry, repository: string, blob: BuiltBlob): Promise<void> {
  await reg.writer.pushBlob(repository, { digest: blob.digest, size: blob.size, body: () => blob.bytes });
}

interface ExistingImage {
  readonly layers: readonly LegacyLayerInput[];
  readonly docker: boolean;
  readonly created?: string;
  /** Rebuilding it in cosign's layout does not give back its bytes. */
  readonly relaid: boolean;
}

/** The layers of the existing .sig image, each read and checked against its digest. */
async function readExisting(
  reg: Registry,
  repository: string,
  tag: string,
  existing: FetchedManifest,
): Promise<ExistingImage> {
  const where = `${reg.host}/${repository}:${tag}`;
  const parsed = parseManifest(existing.bytes, existing.mediaType, MAX_SIGNATURE_LAYERS + 1);
  if (parsed.kind !== 'image' || parsed.config === undefined) {
    throw new SigwardError(
      'CONFLICT',
      `${where} is not a signature image (it is a ${parsed.mediaType}); left as it is`,
    );
  }
  const layers: LegacyLayerInput[] = [];
  for (const [i, layer] of parsed.layers.entries()) {
    if (layer.mediaType !== MT.cosignSimpleSigning) {
      throw new SigwardError(
        'CONFLICT',
        `layer ${i + 1} of ${where} is a ${layer.mediaType}, not a cosign signature; sigward appends only to .sig images of signatures, so it was left as it is`,
      );
    }
    const { [ANNOTATION.signature]: signature, ...annotations } = layer.annotations;
    if (signature === undefined) {
      throw new SigwardError('CONFLICT', `layer ${i + 1} of ${where} has no signature annotation; left as it is`);
    }
    layers.push({ payload: await readSmallBlob(reg, repository, layer, where), signature, annotations });
  }
  const config = await readSmallBlob(reg, repository, parsed.config, where);
  const created = createdOf(config);
  const docker = parsed.mediaType === MT.dockerManifest;
  const rebuilt = buildLegacySignatureImage({
    layers,
    ...(docker ? { dockerMediaTypes: true } : {}),
    ...(created === undefined ? {} : { created }),
  });
  const relaid = !Buffer.from(rebuilt.manifest).equals(Buffer.from(existing.bytes));
  return { layers, docker, relaid, ...(created === undefined ? {} : { created }) };
}

const SMALL_BLOB_BYTES = 1024 * 1024;

async function readSmallBlob(reg: Registry, repository: string, d: Descriptor, where: string): Promise<Uint8Array> {
  if (d.size > SMALL_BLOB_BYTES) {
    throw new SigwardError('CONFLICT', `${where} lists a ${d.size}-byte blob ${d.digest}; signature blobs are small`);
  }
  const { bytes, overflow } = await reg.reader.readBlob(repository, d.digest, SMALL_BLOB_BYTES);
  if (overflow !== undefined || !matchesDigest(bytes, d.digest)) {
    throw new SigwardError(
      'UPSTREAM_DIGEST_MISMATCH',
      `registry ${reg.host} answered blob ${d.digest} of ${where} with other bytes; nothing was written`,
    );
  }
  return bytes;
}

/** The `created` of a signature image's config, when it is a valid RFC 3339 time (cosign keeps it on append). */
function createdOf(config: Uint8Array): string | undefined {
  try {
    const created = (JSON.parse(Buffer.from(config).toString('utf8')) as { created?: unknown }).created;
    return typeof created === 'string' &&
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/.test(created)
      ? created
      : undefined;
  } catch {
    return undefined;
  }
}
