// The legacy `sha256-<hex>.sig` signature image, laid out byte for byte as cosign (via go-containerregistry)
// writes it: one layer per signature, media type simple-signing, the signature
// in the `dev.cosignproject.cosign/signature` annotation, a deterministic config blob, a compact manifest.
import { digestOf, type Digest } from '../oci/digest.ts';
import { MT } from '../oci/mediatypes.ts';
import type { UntrustedLegacySignature } from '../verify/types.ts';
import { ANNOTATION } from '../verify/legacy.ts';
import { goArray, goNumber, goString, goStringMap, goStruct, utf8, type RawJson } from './go-json.ts';
import { toBase64 } from './signer.ts';

/** ggcr's zero time, which the empty image and each appended history entry carry. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

const RFC3339_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

export interface LegacyLayerInput {
  /** The exact payload bytes (the signed message). */
  readonly payload: Uint8Array;
  /** Raw signature bytes (base64-encoded here), or the annotation text verbatim. */
  readonly signature: Uint8Array | string;
  /** Extra layer annotations (certificate, chain, bundle, …). */
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface LegacyImageOptions {
  readonly layers: readonly LegacyLayerInput[];
  /** COSIGN_DOCKER_MEDIA_TYPES=1: Docker schema2 manifest + config types instead of OCI. */
  readonly dockerMediaTypes?: boolean;
  /** Top-level config `created` (cosign `--record-creation-timestamp`); default ggcr's zero time. RFC 3339. */
  readonly created?: string;
}

export interface BuiltBlob {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly bytes: Uint8Array;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface LegacySignatureImage {
  readonly manifest: Uint8Array;
  readonly manifestDigest: Digest;
  readonly manifestMediaType: string;
  readonly config: BuiltBlob;
  readonly layers: readonly BuiltBlob[];
}

export function buildLegacySignatureImage(opts: LegacyImageOptions): LegacySignatureImage {
  const created = opts.created ?? ZERO_TIME;
  if (!RFC3339_RE.test(created)) throw new TypeError(`buildLegacySignatureImage: created "${created}" is not RFC 3339`);
  const layers: BuiltBlob[] = opts.layers.map((l) => ({
    mediaType: MT.cosignSimpleSigning,
    digest: digestOf(l.payload),
    size: l.payload.length,
    bytes: l.payload,
    annotations: {
      ...l.annotations,
      [ANNOTATION.signature]: typeof l.signature === 'string' ? l.signature : toBase64(l.signature),
    },
  }));
  // ggcr v1.ConfigFile field order: architecture, created, history, os, rootfs, config. The payload is stored
  // uncompressed, so each diff_id equals the layer digest (cosign pkg/oci/static/signature.go).
  const configJson = goStruct([
    ['architecture', goString('')],
    ['created', goString(created)],
    ['history', goArray(layers.map(() => goStruct([['created', goString(ZERO_TIME)]])))],
    ['os', goString('')],
    [
      'rootfs',
      goStruct([
        ['type', goString('layers')],
        ['diff_ids', goArray(layers.map((l) => goString(l.digest)))],
      ]),
    ],
    ['config', goStruct([])],
  ]);
  const configBytes = utf8(configJson);
  const config: BuiltBlob = {
    mediaType: opts.dockerMediaTypes
      ? 'application/vnd.docker.container.image.v1+json'
      : 'application/vnd.oci.image.config.v1+json',
    digest: digestOf(configBytes),
    size: configBytes.length,
    bytes: configBytes,
  };
  const manifestMediaType = opts.dockerMediaTypes ? MT.dockerManifest : MT.ociManifest;
  const manifest = utf8(
    goStruct([
      ['schemaVersion', goNumber(2)],
      ['mediaType', goString(manifestMediaType)],
      ['config', descriptor(config)],
      ['layers', goArray(layers.map(descriptor))],
    ]),
  );
  return { manifest, manifestDigest: digestOf(manifest), manifestMediaType, config, layers };
}

export interface DescriptorFields {
  readonly mediaType: string;
  readonly size: number;
  readonly digest: string;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly artifactType?: string;
}

/** ggcr v1.Descriptor field order: mediaType, size, digest, (data, urls,) annotations (a Go map: sorted keys),
 * (platform,) artifactType; absent members omitted. */
export function descriptor(b: DescriptorFields): RawJson {
  return goStruct([
    ['mediaType', goString(b.mediaType)],
    ['size', goNumber(b.size)],
    ['digest', goString(b.digest)],
    ['annotations', b.annotations === undefined ? undefined : goStringMap(b.annotations)],
    ['artifactType', b.artifactType === undefined ? undefined : goString(b.artifactType)],
  ]);
}

/** The layers of a built image as the fetcher would hand them to verify/ (`source` names the image). */
export function untrustedLayers(image: LegacySignatureImage, source: string): UntrustedLegacySignature[] {
  return image.layers.map((l, i) => ({
    format: 'legacy',
    source: `${source}, layer ${i + 1} of ${image.layers.length}`,
    layerDigest: l.digest,
    layerMediaType: l.mediaType,
    annotations: l.annotations ?? {},
    payload: l.bytes,
  }));
}
