// The signed images of the signature-gate scenarios, pushed up front so that every cold pull meets a digest sigward
// has never verified (verdicts are cached per policy, repository and digest): one image for the warm figures, one per
// cold round and variant, one per coalescing round. Signed with the project's own signer laid out as cosign does
// (test/helpers/cosign.ts): legacy `sha256-<hex>.sig` images, and cosign v3 bundles through the referrers tag schema.
import { newKey, signBundle, signLegacy, type TestKey } from '../test/helpers/cosign.ts';
import { buildImage, pushImage, type TestImage } from '../test/helpers/images.ts';
import type { Registry } from '../test/helpers/registry.ts';
import { progress, type Settings } from './settings.ts';
import { SIGNED_PREFIX } from './sigward.ts';

export const SIGNED_REPO = `${SIGNED_PREFIX}/app`;
export const BUNDLE_REPO = `${SIGNED_PREFIX}/bundle`;
export const WARM_TAG = 'v1';

export interface SignedImage {
  readonly repo: string;
  readonly tag: string;
  readonly digest: string;
}

/** The cold-pull variants: where sigward reaches the upstream and how the image is signed. */
export type ColdVariant = 'legacy-direct' | 'legacy-fwd' | 'legacy-fwd-delay' | 'bundle-fwd' | 'bundle-fwd-delay';
export const COLD_VARIANTS: readonly ColdVariant[] = [
  'legacy-direct',
  'legacy-fwd',
  'legacy-fwd-delay',
  'bundle-fwd',
  'bundle-fwd-delay',
];

export interface SignedFixtures {
  /** Legacy-signed, for the warm wrk figures. */
  readonly warm: SignedImage;
  /** coldRounds images per variant, each pulled cold exactly once. */
  readonly cold: Readonly<Record<ColdVariant, readonly SignedImage[]>>;
  /** One image per coalescing round. */
  readonly herd: readonly SignedImage[];
  /** Signed by a key sigward does not trust: a cold pull must be refused (the gate is really checking). */
  readonly wrongKey: SignedImage;
}

interface Job {
  readonly repo: string;
  readonly tag: string;
  readonly format: 'legacy' | 'bundle';
  readonly key: TestKey;
}

async function pushSigned(up: Registry, job: Job): Promise<SignedImage> {
  // Manifest annotations give each image its own digest while the config and layer blobs are shared.
  const img: TestImage = buildImage({
    annotations: { 'org.opencontainers.image.title': `sigward bench ${job.repo}:${job.tag}` },
  });
  const digest = await pushImage(up, job.repo, job.tag, img);
  if (job.format === 'legacy') await signLegacy(up, job.repo, digest, { keys: [job.key] });
  else await signBundle(up, job.repo, { key: job.key, subject: { mediaType: img.mediaType, size: img.size, digest } });
  return { repo: job.repo, tag: job.tag, digest };
}

/** Push and sign everything, four at a time (each push is a handful of small requests). */
export async function pushSignedFixtures(up: Registry, key: TestKey, settings: Settings): Promise<SignedFixtures> {
  const jobs: Job[] = [{ repo: SIGNED_REPO, tag: WARM_TAG, format: 'legacy', key }];
  for (const v of COLD_VARIANTS) {
    const format = v.startsWith('bundle') ? 'bundle' : 'legacy';
    const repo = format === 'bundle' ? BUNDLE_REPO : SIGNED_REPO;
    for (let i = 0; i < settings.coldRounds; i++) jobs.push({ repo, tag: `cold-${v}-${i}`, format, key });
  }
  for (let i = 0; i < settings.rounds; i++) jobs.push({ repo: SIGNED_REPO, tag: `herd-${i}`, format: 'legacy', key });
  jobs.push({ repo: SIGNED_REPO, tag: 'wrong-key', format: 'legacy', key: newKey('mallory') });

  const out: SignedImage[] = new Array<SignedImage>(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < jobs.length; i = next++) out[i] = await pushSigned(up, jobs[i]!);
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  const pick = (prefix: string): SignedImage[] => out.filter((s) => s.tag.startsWith(prefix));
  const cold = Object.fromEntries(COLD_VARIANTS.map((v) => [v, pick(`cold-${v}-`)])) as Record<
    ColdVariant,
    SignedImage[]
  >;
  const fx: SignedFixtures = { warm: out[0]!, cold, herd: pick('herd-'), wrongKey: pick('wrong-key')[0]! };
  progress(
    `pushed ${jobs.length} signed images (${SIGNED_REPO}, ${BUNDLE_REPO}): 1 warm, ${settings.coldRounds} cold per variant ` +
      `x ${COLD_VARIANTS.length}, ${fx.herd.length} for coalescing, 1 signed by an untrusted key`,
  );
  return fx;
}
