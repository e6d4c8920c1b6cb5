// A hostile legacy `.sig` image, laid out as cosign would (src/sign/legacy-image.ts) but listing `layers` layers:
// every one naming the same blob (`blob: 'same'`: the amplification found in review, 1000 layers -> one 1 MiB blob),
// or each its own tiny blob (`distinct`). Optionally a real signature first, to show one within the caps still counts.
// Shared by the amplification tests and the benchmark's "hostile .sig" row.
import { randomBytes } from 'node:crypto';
import { signatureTag } from '../../src/oci/cosign-tags.ts';
import type { Digest } from '../../src/oci/digest.ts';
import { buildLegacySignatureImage, type LegacyLayerInput } from '../../src/sign/legacy-image.ts';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { signBytes } from '../../src/sign/signer.ts';
import type { TestKey } from './cosign.ts';
import { RegistrySession, pushBlobIn, pushManifestIn, type RegistryTarget } from './registry-client.ts';

export interface HostileSigOptions {
  /** Layers listed in the `.sig` manifest. */
  readonly layers: number;
  readonly blob: 'same' | 'distinct';
  /** Size of the shared blob (`same`); distinct blobs are a few bytes each. */
  readonly blobBytes?: number;
  /** A valid signature by this key as layer 1 (its payload names `dockerReference` and the digest signed). */
  readonly validFirst?: { readonly key: TestKey; readonly dockerReference: string };
  /** A repository of the same registry that already holds some of these blobs (an earlier `distinct` push): those
   * are mounted from it (cross-repository mount, one request) instead of uploaded again. */
  readonly mountFrom?: string;
}

export interface HostileSig {
  readonly manifestDigest: string;
  /** Distinct blobs pushed (config excluded). */
  readonly distinctBlobs: number;
}

/** A cross-repository mount of `digest` from `from` (distribution-spec POST ?mount=&from=): true when the registry
 * linked it (201), false when it declined (the upload it started instead is left unused). */
async function mounted(session: RegistrySession, digest: string, from: string): Promise<boolean> {
  const query = new URLSearchParams({ mount: digest, from }).toString();
  const res = await session.send('POST', `/v2/${session.repo}/blobs/uploads/?${query}`, { 'content-length': '0' });
  await res.body.dump();
  return res.statusCode === 201;
}

/** Build and push the `.sig` image of `digest` into `repo`: blobs four at a time (mounted from `mountFrom` where it
 * has them), then the manifest under the tag. */
export async function pushHostileSig(
  reg: RegistryTarget,
  repo: string,
  digest: string,
  opts: HostileSigOptions,
): Promise<HostileSig> {
  const junkSignature = randomBytes(64);
  const shared = opts.blob === 'same' ? randomBytes(opts.blobBytes ?? 1024 * 1024) : undefined;
  const layers: LegacyLayerInput[] = [];
  if (opts.validFirst) {
    const payload = simpleSigningPayload({ dockerReference: opts.validFirst.dockerReference, digest, optional: null });
    layers.push({ payload, signature: signBytes(opts.validFirst.key.privateKey, payload) });
  }
  while (layers.length < opts.layers) {
    layers.push({ payload: shared ?? Buffer.from(`{"junk":${layers.length}}`), signature: junkSignature });
  }
  const img = buildLegacySignatureImage({ layers });
  const blobs = new Map<string, Uint8Array>([[img.config.digest, img.config.bytes]]);
  for (const l of img.layers) blobs.set(l.digest, l.bytes);
  const queue = [...blobs];
  const session = new RegistrySession(reg, repo);
  try {
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [blobDigest, bytes] = next;
        if (opts.mountFrom !== undefined && (await mounted(session, blobDigest, opts.mountFrom))) continue;
        // Junk made for this image: new to the repository, so no HEAD asks first (a third of the requests).
        await pushBlobIn(session, bytes, blobDigest, { ask: false });
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    await pushManifestIn(session, signatureTag(digest as Digest), img.manifest, img.manifestMediaType);
  } finally {
    await session.close();
  }
  return { manifestDigest: img.manifestDigest, distinctBlobs: blobs.size - 1 };
}
