// Pieces for hand-written manifests that two JSON readers read differently: JavaScript's JSON.parse (sigward) and
// Go's encoding/json (distribution, containerd, containers/image), which matches object keys case-insensitively with
// Unicode simple folding and lets the last duplicate win. The manifest text itself is written by the test, byte by
// byte, so what is pushed is exactly what is read; this file only makes the blobs it points to and pushes them.
import { gzipSync } from 'node:zlib';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { MT } from '../../src/oci/mediatypes.ts';
import { makeTar } from './tar.ts';
import { sha256 } from './images.ts';
import { pushBlobIn, pushManifestIn, RegistrySession, type RegistryTarget } from './registry-client.ts';

export const SIMPLE_SIGNING = MT.cosignSimpleSigning;
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

export interface Blob {
  readonly bytes: Buffer;
  readonly digest: string;
  readonly size: number;
}

export function blobOf(bytes: Uint8Array): Blob {
  const b = Buffer.from(bytes);
  return { bytes: b, digest: sha256(b), size: b.length };
}

/** A descriptor as compact JSON text, keys in the order given (`extra` is raw text appended inside the object). */
export function desc(mediaType: string, blob: { readonly digest: string; readonly size: number }, extra = ''): string {
  return `{"mediaType":${JSON.stringify(mediaType)},"digest":"${blob.digest}","size":${blob.size}${extra}}`;
}

/** What a crafted manifest can point at: a runnable layer holding one marker file, and harmless signature blobs. */
export interface CraftedParts {
  /** The file name inside the runnable layer: finding it in a runtime's storage means the layer got through. */
  readonly marker: string;
  /** The layer as an ordinary tar and gzipped. */
  readonly tar: Blob;
  readonly tarGz: Blob;
  /** A runnable image config whose rootfs is that one layer (diff_id = the tar's digest), running the marker. */
  readonly config: Blob;
  /** A genuine simple-signing payload (JSON) and a cosign-style config for it: a real signature artifact's blobs. */
  readonly payload: Blob;
  readonly payloadConfig: Blob;
}

/** The blobs for one case; `id` makes every digest unique, so no case can borrow another's content. */
export function craftedParts(id: string): CraftedParts {
  const marker = `sigward-crafted-${id}.txt`;
  const tarBytes = makeTar({ [marker]: `#!/bin/sh\necho crafted layer ${id} got through\n` });
  const tar = blobOf(tarBytes);
  const tarGz = blobOf(gzipSync(tarBytes, { level: 9 }));
  const config = blobOf(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Env: ['PATH=/'], Cmd: [`/${marker}`] },
        rootfs: { type: 'layers', diff_ids: [tar.digest] },
      }),
    ),
  );
  const payload = blobOf(simpleSigningPayload({ dockerReference: `example.test/crafted/${id}`, digest: tar.digest }));
  const payloadConfig = blobOf(
    Buffer.from(
      JSON.stringify({
        architecture: '',
        os: '',
        config: {},
        rootfs: { type: 'layers', diff_ids: [payload.digest] },
      }),
    ),
  );
  return { marker, tar, tarGz, config, payload, payloadConfig };
}

/** Every blob of the parts: pushing them all covers whatever either reader of a manifest references (distribution
 * checks the blobs Go sees; sigward and a runtime may look at the others). */
export function allBlobs(p: CraftedParts): Blob[] {
  return [p.tar, p.tarGz, p.config, p.payload, p.payloadConfig];
}

/** The blobs a client must never receive through sigward for a refused case: the runnable layer and config. */
export function runnableDigests(p: CraftedParts): string[] {
  return [p.tar.digest, p.tarGz.digest, p.config.digest];
}

/** Push the blobs, then the manifest text exactly as written, with `contentType`, under `ref` (a tag or its digest). */
export async function pushCrafted(
  reg: RegistryTarget,
  repo: string,
  ref: string | undefined,
  text: string,
  contentType: string,
  blobs: readonly Blob[],
): Promise<{ bytes: Buffer; digest: string }> {
  const bytes = Buffer.from(text, 'utf8');
  const digest = sha256(bytes);
  const s = new RegistrySession(reg, repo);
  try {
    for (const b of blobs) await pushBlobIn(s, b.bytes, b.digest);
    await pushManifestIn(s, ref ?? digest, bytes, contentType);
  } finally {
    await s.close();
  }
  return { bytes, digest };
}
