// Keyless-signed images for the keyless scenario, signed by the benchmark's own test sigstore (Fulcio-style CA, CT
// log, Rekor log; test/helpers/test-sigstore.ts) whose trusted_root.json sigward is given as a trust root. One
// legacy-signed image for the warm figures, then per cold round one image signed keylessly in the legacy `.sig`
// format and one with a cosign v3 bundle (referrers tag schema), each pulled cold exactly once.
import { simpleSigningPayload } from '../src/sign/payload.ts';
import type { Digest } from '../src/oci/digest.ts';
import { pushBundleReferrer, pushLegacySignature } from '../test/helpers/cosign.ts';
import { buildImage, pushImage } from '../test/helpers/images.ts';
import type { Registry } from '../test/helpers/registry.ts';
import type { TestSigstore } from '../test/helpers/test-sigstore.ts';
import { progress, type Settings } from './settings.ts';
import type { SignedImage } from './signed-fixtures.ts';

/** Repositories under this prefix need a keyless signature by KEYLESS_IDENTITY (bench/sigward.ts benchPolicy). */
export const KEYLESS_PREFIX = 'bench/keyless';
export const KEYLESS_REPO = `${KEYLESS_PREFIX}/app`;
export const KEYLESS_IDENTITY = 'bench@example.test';
export const KEYLESS_ISSUER = 'https://accounts.google.com';
const WARMUP = 20;

export interface KeylessFixtures {
  readonly warm: SignedImage;
  /** Pulled cold before the timed rounds (legacy and bundle alternating): the timed rounds measure a daemon that has
   * verified keyless signatures before, as one in service has; the first of them is reported on its own. */
  readonly warmup: readonly SignedImage[];
  readonly legacy: readonly SignedImage[];
  readonly bundle: readonly SignedImage[];
  /** Signed keylessly by another identity: a cold pull must be refused. */
  readonly wrongIdentity: SignedImage;
}

async function push(
  up: Registry,
  ss: TestSigstore,
  tag: string,
  format: 'legacy' | 'bundle',
  identity = KEYLESS_IDENTITY,
): Promise<SignedImage> {
  const img = buildImage({ annotations: { 'org.opencontainers.image.title': `sigward bench keyless ${tag}` } });
  const digest = await pushImage(up, KEYLESS_REPO, tag, img);
  if (format === 'legacy') {
    const payload = simpleSigningPayload({ dockerReference: `${up.host}/${KEYLESS_REPO}`, digest: digest });
    const sig = ss.signLegacy({ payload, identity });
    await pushLegacySignature(up, KEYLESS_REPO, digest, [
      { payload, signature: sig.signature, annotations: sig.annotations },
    ]);
  } else {
    const signed = ss.signBundle({ digest: digest as Digest, identity });
    await pushBundleReferrer(up, KEYLESS_REPO, Buffer.from(signed.json), {
      mediaType: img.mediaType,
      size: img.size,
      digest,
    });
  }
  return { repo: KEYLESS_REPO, tag, digest };
}

export async function pushKeylessFixtures(
  up: Registry,
  ss: TestSigstore,
  settings: Settings,
): Promise<KeylessFixtures> {
  const warm = await push(up, ss, 'warm', 'legacy');
  const warmup: SignedImage[] = [];
  for (let i = 0; i < WARMUP; i++) warmup.push(await push(up, ss, `warmup-${i}`, i % 2 === 0 ? 'legacy' : 'bundle'));
  const legacy: SignedImage[] = [];
  const bundle: SignedImage[] = [];
  for (let i = 0; i < settings.coldRounds; i++) {
    legacy.push(await push(up, ss, `cold-legacy-${i}`, 'legacy'));
    bundle.push(await push(up, ss, `cold-bundle-${i}`, 'bundle'));
  }
  const wrongIdentity = await push(up, ss, 'wrong-identity', 'legacy', 'mallory@example.test');
  progress(
    `pushed ${2 + 2 * settings.coldRounds} keyless-signed images (${KEYLESS_REPO}): 1 warm, ${settings.coldRounds} cold per format, 1 by another identity`,
  );
  return { warm, warmup, legacy, bundle, wrongIdentity };
}
