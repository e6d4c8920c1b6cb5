// A policy met by an image's `.sig` signatures alone is decided on them: a referrers lookup that fails does not fail
// that pull, and a repository whose last image was decided that way is not asked for referrers at all unless the
// `.sig` signatures fall short. When they are not enough, the bundle path is waited for and its failure is "could not
// verify" (503). The first suite's upstream is a scripted fake (failing the referrers API on demand is fault
// injection); the second uses the real registry.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { newKey, signBundle, signLegacy } from '../helpers/cosign.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { buildImage, pushImage } from '../helpers/images.ts';
import {
  ociError,
  oneFileManifest,
  serveManifest,
  sha256,
  startFakeUpstream,
  type FakeUpstream,
} from '../helpers/fake-upstream.ts';
import { rawGet } from '../helpers/raw-http.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { signBytes } from '../../src/sign/signer.ts';
import { buildLegacySignatureImage } from '../../src/sign/legacy-image.ts';
import { referrersTag, signatureTag } from '../../src/oci/cosign-tags.ts';
import type { Digest } from '../../src/oci/digest.ts';

const HOST = 'legacy-first.test';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const alice = newKey('alice');
const bob = newKey('bob');

describe('a policy met by the .sig signatures: a failing referrers lookup does not fail the pull', () => {
  let fake: FakeUpstream;
  let sw: RunningSigward;

  /** An image signed by alice (legacy `.sig`) at `repo:v1`; its referrers lookups fail with a 503. */
  function publish(repo: string): Digest {
    const manifest = oneFileManifest(Buffer.from(`the image at ${repo}`));
    const digest = sha256(manifest) as Digest;
    const payload = simpleSigningPayload({ dockerReference: `${HOST}/${repo}`, digest, optional: null });
    const sig = buildLegacySignatureImage({ layers: [{ payload, signature: signBytes(alice.privateKey, payload) }] });
    fake.route(`/v2/${repo}/manifests/v1`, (req, res) => serveManifest(res, manifest, OCI_MANIFEST, req.method));
    fake.route(`/v2/${repo}/manifests/${signatureTag(digest)}`, (req, res) =>
      serveManifest(res, sig.manifest, sig.manifestMediaType, req.method),
    );
    const referrers = (_req: unknown, res: ServerResponse): void =>
      ociError(res, 503, 'UNAVAILABLE', 'the referrers store is down');
    fake.route(`/v2/${repo}/referrers/${digest}`, referrers);
    fake.route(`/v2/${repo}/manifests/${referrersTag(digest)}`, referrers);
    return digest;
  }

  before(async () => {
    fake = await startFakeUpstream();
    sw = await startSigward({
      upstreams: [{ host: HOST, url: fake.url, retries: 0, timeouts: { connect: '2s', headers: '10s', body: '10s' } }],
      trust: { keys: { alice: { pem: alice.publicPem }, bob: { pem: bob.publicPem } } },
      policy: {
        default: 'deny',
        policies: [
          { name: 'by-alice', match: [`${HOST}/alice/*`], keys: ['alice'] },
          { name: 'alice-and-bob', match: [`${HOST}/both/*`], keys: ['alice', 'bob'], threshold: 2 },
        ],
      },
    });
  });
  after(async () => {
    await sw?.stop();
    await fake?.stop();
  });

  const pull = (repo: string) =>
    rawGet(`${sw.url}/v2/${HOST}/${repo}/manifests/v1`, { headers: { Accept: OCI_MANIFEST } });

  test('served when the referrers lookup fails: the .sig signature meets the policy on its own', async () => {
    publish('alice/failing');
    const r = await pull('alice/failing');
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.headers['x-sigward-outcome'], 'verified');
  });

  test('not enough on its own: the bundle path is waited for, and its failure is 503, never an allow', async () => {
    publish('both/failing');
    const r = await pull('both/failing');
    assert.equal(r.status, 503, r.body.toString());
    const err = (JSON.parse(r.body.toString()) as { errors: { code: string; message: string }[] }).errors[0];
    assert.equal(err?.code, 'UNAVAILABLE');
    assert.match(err?.message ?? '', /could not look up signatures/);
  });
});

// Against the real registry: a repository whose last image was decided on its `.sig` signatures is asked for the
// bundles only when the `.sig` ones are not enough; an image there signed only with a bundle still verifies.
describe('a repository signed with .sig images: the bundle path starts only when needed', () => {
  let reg: Registry;
  let sw: RunningSigward;
  const repo = 'apps/mixed';
  const images = {
    first: buildImage({ files: { 'n.txt': 'first, .sig\n' } }),
    second: buildImage({ files: { 'n.txt': 'second, .sig\n' } }),
    bundled: buildImage({ files: { 'n.txt': 'third, bundle only\n' } }),
  };

  before(async () => {
    reg = await startRegistry();
    for (const [tag, img] of Object.entries(images)) await pushImage(reg, repo, tag, img);
    await signLegacy(reg, repo, images.first.digest, { keys: [alice] });
    await signLegacy(reg, repo, images.second.digest, { keys: [alice] });
    const b = images.bundled;
    await signBundle(reg, repo, { key: alice, subject: { mediaType: b.mediaType, size: b.size, digest: b.digest } });
    sw = await startSigward({
      upstreams: [{ host: 'example.test', url: reg.url }],
      trust: { keys: { alice: { pem: alice.publicPem } } },
      policy: { default: 'deny', policies: [{ name: 'apps', match: ['example.test/apps/*'], keys: ['alice'] }] },
    });
  });
  after(async () => {
    await sw?.stop();
    await reg?.stop();
  });

  const pull = (tag: string) =>
    rawGet(`${sw.url}/v2/example.test/${repo}/manifests/${tag}`, { headers: { Accept: OCI_MANIFEST } });
  const referrerLookups = (digest: string): number =>
    sw.upstreamRequests.filter(
      (q) => q.url.includes(`/referrers/${digest}`) || q.url.endsWith(referrersTag(digest as Digest)),
    ).length;

  test('the first image looks both ways; the next .sig-signed one never asks for referrers', async () => {
    const first = await pull('first');
    assert.equal(first.status, 200, first.body.toString());
    assert.ok(referrerLookups(images.first.digest) >= 1, 'the first lookup in the repository asks for bundles too');
    const second = await pull('second');
    assert.equal(second.status, 200, second.body.toString());
    assert.equal(second.headers['x-sigward-outcome'], 'verified');
    assert.equal(referrerLookups(images.second.digest), 0);
  });

  test('an image there signed only with a bundle still verifies (the bundle path runs after the .sig 404)', async () => {
    const r = await pull('bundled');
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.headers['x-sigward-outcome'], 'verified');
    assert.ok(referrerLookups(images.bundled.digest) >= 1);
  });
});
