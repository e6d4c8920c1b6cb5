// Real cosign output through the whole gate: a fake upstream serves the vectors byte-exact (image manifests, .sig
// manifests, signature layers) and sigward must let through exactly what the vectors' provenance says verifies.
// Sources: test/fixtures/README.md.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import {
  ociError,
  serveBlob,
  serveManifest,
  sha256,
  startFakeUpstream,
  type FakeUpstream,
} from '../helpers/fake-upstream.ts';
import { startSigward } from '../helpers/sigward.ts';
import { ociErrorOf } from '../helpers/raw-http.ts';
import { buildLegacySignatureImage } from '../../src/sign/legacy-image.ts';

const fx = (p: string): Buffer => readFileSync(new URL(`../fixtures/${p}`, import.meta.url));
const DOCKER_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
const OCI = 'application/vnd.oci.image.manifest.v1+json';
const REPO = 'securesystemsengineering/testimage';

describe('real cosign vectors through the gate', () => {
  let fake: FakeUpstream;
  const aliceImage = fx('connaisseur-key-signatures/multi-cosigned-alice.json');
  const abcImage = fx('connaisseur-key-signatures/multi-cosigned-alice-bob-charlie.json');
  const pem = (name: string) => fx(`connaisseur-key-signatures/${name}.pub`).toString();
  const cimage = fx('cimage-cosign-key-only/image-manifest.json');
  const cimageModified = fx('cimage-cosign-key-only/neg-modified-image-manifest.json');

  /** Serve an image manifest under a tag and its digest, plus its .sig image, in one repository of the fake. */
  function serveSigned(
    repo: string,
    tag: string,
    image: Buffer,
    mediaType: string,
    sigManifest: Buffer | undefined,
    blobs: Buffer[],
  ): void {
    const d = sha256(image);
    for (const ref of [tag, d])
      fake.route(`/v2/${repo}/manifests/${ref}`, (req, res) => serveManifest(res, image, mediaType, req.method));
    const sigTag = `sha256-${d.slice(7)}.sig`;
    if (sigManifest)
      fake.route(`/v2/${repo}/manifests/${sigTag}`, (req, res) => serveManifest(res, sigManifest, OCI, req.method));
    else
      fake.route(`/v2/${repo}/manifests/${sigTag}`, (_req, res) =>
        ociError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown'),
      );
    fake.route(`/v2/${repo}/referrers/${d}`, (_req, res) => ociError(res, 404, 'NOT_FOUND', 'no referrers API'));
    fake.route(`/v2/${repo}/manifests/sha256-${d.slice(7)}`, (_req, res) =>
      ociError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown'),
    );
    for (const b of blobs) fake.route(`/v2/${repo}/blobs/${sha256(b)}`, (_req, res) => serveBlob(res, b));
  }

  before(async () => {
    fake = await startFakeUpstream();
    // connaisseur: the .sig manifests exactly as the vector has them (their own digest is irrelevant: fetched by tag)
    serveSigned(REPO, 'alice', aliceImage, DOCKER_V2, fx('connaisseur-key-signatures/sig-manifest-071bf7a9.json'), [
      fx('connaisseur-key-signatures/payload-d8ee807d.json'),
    ]);
    serveSigned(REPO, 'abc', abcImage, DOCKER_V2, fx('connaisseur-key-signatures/sig-manifest-bfec161f-3sigs.json'), [
      fx('connaisseur-key-signatures/payload-7248e52a.json'),
    ]);
    // cimage-cosign-key-only: the real payload and signature annotations, laid out in cosign's .sig image
    const layers = [
      {
        payload: fx('cimage-cosign-key-only/payload.json'),
        signature: JSON.parse(fx('cimage-cosign-key-only/layer-annotations.json').toString())[
          'dev.cosignproject.cosign/signature'
        ] as string,
      },
      {
        payload: fx('cimage-cosign-key-only/second-sig.payload.json'),
        signature: JSON.parse(fx('cimage-cosign-key-only/second-sig.layer-annotations.json').toString())[
          'dev.cosignproject.cosign/signature'
        ] as string,
      },
    ];
    const sigImage = buildLegacySignatureImage({ layers });
    const blobs = [Buffer.from(sigImage.config.bytes), ...sigImage.layers.map((l) => Buffer.from(l.bytes))];
    const mt = (JSON.parse(cimage.toString()) as { mediaType?: string }).mediaType ?? DOCKER_V2;
    serveSigned('cimage/valid', 'v1', cimage, mt, Buffer.from(sigImage.manifest), blobs);
    // the modified manifest carries the valid signatures of the ORIGINAL digest under its own .sig tag (replay)
    serveSigned('cimage/modified', 'v1', cimageModified, mt, Buffer.from(sigImage.manifest), blobs);
  });

  after(async () => {
    await fake?.stop();
  });

  async function pullWith(
    policy: Record<string, unknown>,
    repo: string,
    tag: string,
    keys: string[] = ['alice', 'bob', 'charlie', 'default'],
  ) {
    const sw = await startSigward({
      upstreams: [
        { host: 'docker.io', url: fake.url, default: true },
        { host: 'cimage.test', url: fake.url },
      ],
      trust: {
        keys: {
          ...Object.fromEntries(keys.map((k) => [k, { pem: pem(k) }])),
          cosign: { pem: fx('cimage-cosign-key-only/cosign.pub').toString() },
          cosign2: { pem: fx('cimage-cosign-key-only/cosign2.pub').toString() },
        },
      },
      policy: {
        policies: [
          { name: 'vector', match: ['docker.io/securesystemsengineering/*', 'cimage.test/cimage/*'], ...policy },
        ],
      },
    });
    try {
      const path = repo.startsWith('cimage/') ? `/v2/cimage.test/${repo}` : `/v2/${repo}`;
      const r = await request(`${sw.url}${path}/manifests/${tag}`, { headers: { accept: `${DOCKER_V2}, ${OCI}` } });
      const body = Buffer.from(await r.body.arrayBuffer());
      const error = r.statusCode === 200 ? undefined : ociErrorOf(body);
      return { status: r.statusCode, body, message: error?.message ?? '', outcome: error?.detail?.outcome };
    } finally {
      await sw.stop();
    }
  }

  test('connaisseur: the alice-signed image passes with alice and is served byte-exact', async () => {
    const r = await pullWith({ keys: ['alice'] }, REPO, 'alice');
    assert.equal(r.status, 200, r.message);
    assert.deepEqual(r.body, aliceImage);
  });

  test('connaisseur: bob, charlie or default alone do not verify the alice-signed image', async () => {
    for (const k of ['bob', 'charlie', 'default']) {
      const r = await pullWith({ keys: [k] }, REPO, 'alice');
      assert.equal(r.status, 403, k);
      assert.match(r.message, /unknown-key/);
    }
  });

  test('connaisseur: three signers (one layer each) meet threshold 2 of alice+bob and 3 of alice+bob+charlie', async () => {
    assert.equal((await pullWith({ keys: ['alice', 'bob'], threshold: 2 }, REPO, 'abc')).status, 200);
    assert.equal((await pullWith({ keys: ['alice', 'bob', 'charlie'], threshold: 3 }, REPO, 'abc')).status, 200);
  });

  test('connaisseur: threshold 3 fails when one of the keys never signed; threshold 2 fails on a one-signer image', async () => {
    const r = await pullWith({ keys: ['alice', 'bob', 'default'], threshold: 3 }, REPO, 'abc');
    assert.equal(r.status, 403);
    assert.equal(r.outcome, 'threshold-not-met', r.message);
    assert.match(r.message, /only 2 distinct keys signed \(alice, bob\), 3 are required/);
    assert.equal((await pullWith({ keys: ['alice', 'bob'], threshold: 2 }, REPO, 'alice')).status, 403);
  });

  test('connaisseur: required signers', async () => {
    assert.equal((await pullWith({ keys: ['alice', 'charlie'], required: ['charlie'] }, REPO, 'abc')).status, 200);
    const r = await pullWith({ keys: ['alice', 'charlie'], required: ['charlie'] }, REPO, 'alice');
    assert.equal(r.status, 403);
    assert.match(r.message, /charlie/);
  });

  test('cimage-cosign-key-only: both real signatures verify with cosign.pub, none with cosign2.pub', async () => {
    const ok = await pullWith({ keys: ['cosign'], threshold: 1 }, 'cimage/valid', 'v1');
    assert.equal(ok.status, 200, ok.message);
    assert.deepEqual(ok.body, cimage);
    const wrong = await pullWith({ keys: ['cosign2'] }, 'cimage/valid', 'v1');
    assert.equal(wrong.status, 403);
  });

  test('cimage-cosign-key-only: the modified manifest with the original signatures is refused (digest mismatch)', async () => {
    const r = await pullWith({ keys: ['cosign'] }, 'cimage/modified', 'v1');
    assert.equal(r.status, 403);
    assert.match(r.message, /digest-mismatch/);
    assert.match(r.message, new RegExp(sha256(cimageModified).slice(7, 19)));
  });
});
