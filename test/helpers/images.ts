// Deterministic OCI test images built in node, no external tools: ustar layers (tar.ts) gzipped with node:zlib,
// compact JSON configs and manifests (OCI image-spec manifest.md, config.md, image-index.md). Same input, same
// digests, on every machine and every run. Push them with pushImage() (the registry client in registry-client.ts).
import { createCipheriv, createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { makeTar, TAR_END, tarHeader, tarPadding } from './tar.ts';
import {
  pushBlobIn,
  pushManifestIn,
  RegistrySession,
  sha256,
  type BlobData,
  type RegistryTarget,
} from './registry-client.ts';

export { getBlob, getManifest, pushBlob, pushManifest, sha256 } from './registry-client.ts';
export type { BlobData, FetchedManifest, RegistryTarget } from './registry-client.ts';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface TestImage {
  mediaType: string;
  /** The exact manifest (or index) bytes. */
  bytes: Buffer;
  digest: string;
  size: number;
  /** Config and layer blobs, digest -> content; for an index, the blobs of every child. */
  blobs: Map<string, BlobData>;
  /** The child images of an index, in index order; [] for an image. */
  manifests: TestImage[];
  /** The image's platform; undefined for an index. */
  platform?: Platform;
}

export interface ImageSpec {
  arch?: string;
  os?: string;
  variant?: string;
  /** Layer content, path -> content (default: one hello.txt naming the architecture). */
  files?: Record<string, string | Uint8Array>;
  /** Manifest annotations (a cheap way to get a distinct digest). */
  annotations?: Record<string, string>;
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

/** Config + manifest around already-built layers. */
function assemble(
  platform: Platform,
  layers: { mediaType: string; digest: string; size: number; diffId: string; data: BlobData }[],
  annotations?: Record<string, string>,
): TestImage {
  const config = json({
    created: '1970-01-01T00:00:00Z',
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Env: ['PATH=/'], Cmd: ['/hello.txt'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created: '1970-01-01T00:00:00Z', created_by: 'sigward test helper' })),
  });
  const configDigest = sha256(config);
  const bytes = json({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: configDigest, size: config.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    ...(annotations ? { annotations } : {}),
  });
  const blobs = new Map<string, BlobData>([[configDigest, config]]);
  for (const l of layers) blobs.set(l.digest, l.data);
  return { mediaType: OCI_MANIFEST, bytes, digest: sha256(bytes), size: bytes.length, blobs, manifests: [], platform };
}

/** A one-layer image (gzip layer) for one platform. */
export function buildImage(spec: ImageSpec = {}): TestImage {
  const platform: Platform = {
    architecture: spec.arch ?? 'amd64',
    os: spec.os ?? 'linux',
    ...(spec.variant ? { variant: spec.variant } : {}),
  };
  const tar = makeTar(
    spec.files ?? { 'hello.txt': `hello from a sigward test image (${platform.os}/${platform.architecture})\n` },
  );
  const gz = gzipSync(tar, { level: 9 }); // node writes a gzip header with mtime 0 and no name: reproducible
  const layer = { mediaType: OCI_LAYER_GZIP, digest: sha256(gz), size: gz.length, diffId: sha256(tar), data: gz };
  return assemble(platform, [layer], spec.annotations);
}

/** An OCI index over `images` (each entry carries its platform). */
export function buildIndex(images: readonly TestImage[], annotations?: Record<string, string>): TestImage {
  const bytes = json({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: images.map((i) => ({
      mediaType: i.mediaType,
      digest: i.digest,
      size: i.size,
      ...(i.platform ? { platform: i.platform } : {}),
    })),
    ...(annotations ? { annotations } : {}),
  });
  const blobs = new Map<string, BlobData>();
  for (const i of images) for (const [d, b] of i.blobs) blobs.set(d, b);
  return { mediaType: OCI_INDEX, bytes, digest: sha256(bytes), size: bytes.length, blobs, manifests: [...images] };
}

/** The usual pair: an index of linux/amd64 and linux/arm64 images. */
export function buildMultiArch(files?: Record<string, string | Uint8Array>): TestImage {
  return buildIndex(['amd64', 'arm64'].map((arch) => buildImage({ arch, ...(files ? { files } : {}) })));
}

/**
 * A linux/amd64 image whose single layer is an uncompressed tar holding `blob.bin`: `mib` MiB of deterministic
 * pseudo-random bytes (AES-128-CTR keystream of `seed`), written to `dir` in 1 MiB steps so memory stays flat.
 * Uncompressed on purpose: random bytes do not compress, and gzip would only burn CPU the benchmark then measures.
 */
export async function buildBigImage(opts: {
  mib: number;
  dir: string;
  seed?: string;
}): Promise<TestImage & { layerFile: string }> {
  const size = opts.mib * 1024 * 1024;
  const key = createHash('sha256')
    .update(opts.seed ?? 'sigward-big-image')
    .digest()
    .subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const layerFile = join(opts.dir, `big-${opts.mib}mib.tar`);
  const hash = createHash('sha256');
  const fh = await open(layerFile, 'w');
  try {
    const write = async (b: Buffer): Promise<void> => {
      hash.update(b);
      await fh.write(b);
    };
    await write(tarHeader('blob.bin', size, '0'));
    const zeros = Buffer.alloc(1024 * 1024);
    for (let left = size; left > 0; left -= zeros.length)
      await write(cipher.update(zeros.subarray(0, Math.min(left, zeros.length))));
    await write(Buffer.concat([tarPadding(size), TAR_END]));
  } finally {
    await fh.close();
  }
  const digest = `sha256:${hash.digest('hex')}`;
  const tarSize = 512 + size + tarPadding(size).length + TAR_END.length;
  const layer = {
    mediaType: OCI_LAYER_TAR,
    digest,
    size: tarSize,
    diffId: digest,
    data: { file: layerFile, size: tarSize },
  };
  return { ...assemble({ architecture: 'amd64', os: 'linux' }, [layer]), layerFile };
}

/** Push an image or index (children and blobs first) to `repo`, tagged `tag` or by digest only; returns the digest. */
export async function pushImage(
  reg: RegistryTarget,
  repo: string,
  tag: string | undefined,
  image: TestImage,
): Promise<string> {
  const s = new RegistrySession(reg, repo);
  try {
    const push = async (img: TestImage, ref: string): Promise<string> => {
      for (const child of img.manifests) await push(child, child.digest);
      if (img.manifests.length === 0) for (const [digest, blob] of img.blobs) await pushBlobIn(s, blob, digest);
      return pushManifestIn(s, ref, img.bytes, img.mediaType);
    };
    return await push(image, tag ?? image.digest);
  } finally {
    await s.close();
  }
}
