// Real keyless and private-CA cosign signatures through the whole gate: a fake upstream serves the vectors byte-exact
// (the signed image manifest, a `.sig` image laid out as cosign writes it around the vector's payload and layer
// annotations, or a bundle referrer) and sigward, configured with trust roots and CAs as a user writes them, must serve
// the image to the identity the vector's provenance names and refuse every near miss with its reason.
// Sources: test/fixtures/README.md (cimage-cosign-fulcio-rekor, cimage-cosign-pki, cosign-v3-sign-bundle, trust-roots).
//
// cosign-v3-sign-bundle signs the manifest sha256:c811d58d…0172, whose bytes are not in the vector (only the bundle
// is), so no request through sigward can be served on it. It is served here as the referrer of another manifest:
// with the right identity every check of certificate, SCT, log entry and timestamp passes and the signature is
// refused for the one thing left, the digest it names; with a wrong identity it is refused for that first.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { buildBundleReferrer, buildReferrersTagIndex } from '../../src/sign/bundle.ts';
import { buildLegacySignatureImage, type LegacySignatureImage } from '../../src/sign/legacy-image.ts';
import { ANNOTATION } from '../../src/verify/legacy.ts';
import { COSIGN_SIGN_PREDICATE } from '../../src/verify/intoto.ts';
import { serveBlob, serveManifest, sha256, startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { buildImage } from '../helpers/images.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';
import { ociErrorOf } from '../helpers/raw-http.ts';
import { startSigward } from '../helpers/sigward.ts';
import { createTestCa, createTestSigstore } from '../helpers/test-sigstore.ts';

const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;
const fx = (p: string): Buffer => readFileSync(join(FIXTURES, p));
const DOCKER_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
const OCI = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

// cimage-cosign-fulcio-rekor: `cosign sign` keyless against public-good Fulcio and Rekor (2023-01-20).
const FULCIO_SUBJECT = 'mitr@redhat.com';
const FULCIO_ISSUER = 'https://github.com/login/oauth';
// cimage-cosign-pki: a private CA's RSA-4096 leaf, SAN email and DNS name, no OIDC issuer.
const PKI_EMAIL = 'qiwan@redhat.com';
const PKI_DNS = 'myhost.example.com';
// cosign-v3-sign-bundle: cosign v3 in kubewarden-controller's release workflow (2026-04-09).
const KW_SUBJECT =
  'https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0';
const KW_ISSUER = 'https://token.actions.githubusercontent.com';
// The gate's clock, which only private-CA certificates are checked at (Fulcio ones at their logged or timestamped
// time): injected, inside the PKI vector's validity (2024-10-01 to 2052-02-16) unless a test moves it out.
const IN_PKI_VALIDITY = new Date('2026-06-01T00:00:00Z');

/** The `.sig` image cosign writes around one vector layer (payload and annotations exactly as in the vector). */
function sigImageOf(dir: string): LegacySignatureImage {
  const annotations = JSON.parse(fx(`${dir}/layer-annotations.json`).toString()) as Record<string, string>;
  const { [ANNOTATION.signature]: signature, ...rest } = annotations;
  if (signature === undefined) throw new Error(`${dir}: no signature annotation`);
  return buildLegacySignatureImage({ layers: [{ payload: fx(`${dir}/payload.json`), signature, annotations: rest }] });
}

describe('real keyless and private-CA vectors through the gate', () => {
  let fake: FakeUpstream;
  let dir: string;
  const fulcioImage = fx('cimage-cosign-fulcio-rekor/image-manifest.json');
  const pkiImage = fx('cimage-cosign-pki/image-manifest.json');
  const bundleSubject = buildImage({ files: { 'hello.txt': 'not the image the kubewarden bundle signed\n' } });
  const testRoot = createTestSigstore();
  const testCa = createTestCa();
  const files: Record<string, string> = {};

  function serve(path: string, bytes: Buffer, mediaType?: string): void {
    fake.route(path, (req, res) =>
      mediaType === undefined ? serveBlob(res, bytes) : serveManifest(res, bytes, mediaType, req.method),
    );
  }

  /** An image manifest under tag v1 and its digest, with a legacy `.sig` image of one vector layer. */
  function serveLegacy(repo: string, image: Buffer, vector: string): void {
    const digest = sha256(image);
    const mediaType = (JSON.parse(image.toString()) as { mediaType?: string }).mediaType ?? DOCKER_V2;
    for (const ref of ['v1', digest]) serve(`/v2/${repo}/manifests/${ref}`, image, mediaType);
    const sig = sigImageOf(vector);
    serve(`/v2/${repo}/manifests/sha256-${digest.slice(7)}.sig`, Buffer.from(sig.manifest), sig.manifestMediaType);
    for (const b of [sig.config, ...sig.layers]) serve(`/v2/${repo}/blobs/${b.digest}`, Buffer.from(b.bytes));
  }

  before(async () => {
    dir = tempDir('keyless-vectors');
    const file = (name: string, text: string): string => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    files.testRoot = file('test.trusted_root.json', testRoot.trustedRootJson);
    files.testCaRoots = file('test-ca-roots.pem', testCa.rootsPem);
    files.testCaInt = file('test-ca-int.pem', testCa.intermediatesPem);
    fake = await startFakeUpstream();
    serveLegacy('vectors/fulcio', fulcioImage, 'cimage-cosign-fulcio-rekor');
    serveLegacy('vectors/pki', pkiImage, 'cimage-cosign-pki');
    // The real v3 bundle as the one referrer of another manifest, through the referrers API.
    const repo = 'vectors/bundle';
    for (const ref of ['v1', bundleSubject.digest]) serve(`/v2/${repo}/manifests/${ref}`, bundleSubject.bytes, OCI);
    const referrer = buildBundleReferrer({
      bundle: fx('cosign-v3-sign-bundle/bundle.sigstore.json'),
      subject: { mediaType: OCI, size: bundleSubject.size, digest: bundleSubject.digest },
      created: '2026-04-09T07:23:29Z',
      predicateType: COSIGN_SIGN_PREDICATE,
    });
    serve(`/v2/${repo}/manifests/${referrer.manifestDigest}`, Buffer.from(referrer.manifest), OCI);
    for (const b of [referrer.config, referrer.layer]) serve(`/v2/${repo}/blobs/${b.digest}`, Buffer.from(b.bytes));
    const { index } = buildReferrersTagIndex([
      {
        mediaType: OCI,
        digest: referrer.manifestDigest,
        size: referrer.manifest.length,
        artifactType: referrer.artifactType,
      },
    ]);
    serve(`/v2/${repo}/referrers/${bundleSubject.digest}`, Buffer.from(index), OCI_INDEX);
  });

  after(async () => {
    await fake?.stop();
    if (dir) removeTempDir(dir);
  });

  interface Answer {
    ref: string;
    status: number;
    body: Buffer;
    message: string;
    outcome: string | undefined;
  }

  /** Pull `vectors/<name>` by tag and by digest through a sigward whose one policy for it is `policy`: for each, the
   * status, the body and, for a refusal, the OCI error's outcome and message. */
  async function pull(name: string, policy: Record<string, unknown>, now = IN_PKI_VALIDITY): Promise<Answer[]> {
    const sw = await startSigward(
      {
        upstreams: [{ host: 'vectors.test', url: fake.url }],
        trust: {
          roots: {
            'public-good': { trustedRoot: join(FIXTURES, 'trust-roots/root-signing.trusted_root.json') },
            test: { trustedRoot: files.testRoot },
          },
          cas: {
            pki: {
              roots: join(FIXTURES, 'cimage-cosign-pki/pki_root_crts.pem'),
              intermediates: join(FIXTURES, 'cimage-cosign-pki/pki_intermediate_crts.pem'),
            },
            'pki-roots-only': { roots: join(FIXTURES, 'cimage-cosign-pki/pki_root_crts.pem') },
            'test-ca': { roots: files.testCaRoots, intermediates: files.testCaInt },
          },
        },
        policy: { policies: [{ name: 'vector', match: [`vectors.test/vectors/${name}`], ...policy }] },
      },
      { now: () => now.getTime() },
    );
    try {
      const answers: Answer[] = [];
      const digest = name === 'bundle' ? bundleSubject.digest : sha256(name === 'pki' ? pkiImage : fulcioImage);
      for (const ref of ['v1', digest]) {
        const r = await request(`${sw.url}/v2/vectors.test/vectors/${name}/manifests/${ref}`, {
          headers: { accept: `${DOCKER_V2}, ${OCI}` },
        });
        const body = Buffer.from(await r.body.arrayBuffer());
        const error = r.statusCode === 200 ? undefined : ociErrorOf(body);
        answers.push({
          ref,
          status: r.statusCode,
          body,
          message: error?.message ?? '',
          outcome: error?.detail?.outcome,
        });
      }
      return answers;
    } finally {
      await sw.stop();
    }
  }

  /** Served by tag and by digest, byte-exact. */
  function assertServed(answers: Answer[], bytes: Buffer): void {
    for (const a of answers) {
      assert.equal(a.status, 200, `${a.ref}: ${a.message}`);
      assert.deepEqual(a.body, bytes, a.ref);
    }
  }

  /** Refused by tag and by digest: one signature found (of `format`), not counted for `reason`. */
  function assertRefused(answers: Answer[], reason: string, format = 'legacy'): void {
    for (const a of answers) {
      assert.equal(a.status, 403, `${a.ref}: ${a.message}`);
      assert.equal(a.outcome, 'no-valid-signature', `${a.ref}: ${a.message}`);
      assert.ok(a.message.includes('1 signature found:'), `${a.ref}: ${a.message}`);
      assert.ok(a.message.includes(`[${format}]: not counted: ${reason}: `), `${a.ref}: ${a.message}`);
    }
  }

  const fulcio = (identity: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    pull('fulcio', { root: 'public-good', identities: [identity], ...extra });

  test('fulcio-rekor: the signer’s identity under the public-good root is served byte-exact', async () => {
    assertServed(await fulcio({ issuer: FULCIO_ISSUER, subject: FULCIO_SUBJECT }), fulcioImage);
  });

  test('fulcio-rekor: unanchored regular expressions match as cosign’s do', async () => {
    assertServed(await fulcio({ issuerRegExp: 'github', subjectRegExp: 'redhat' }), fulcioImage);
  });

  test('fulcio-rekor: another issuer, another subject or a GitHub claim the certificate lacks is wrong-identity', async () => {
    for (const identity of [
      { issuer: 'https://accounts.google.com', subject: FULCIO_SUBJECT },
      { issuer: FULCIO_ISSUER, subject: 'someone@redhat.com' },
      { issuer: FULCIO_ISSUER, subjectRegExp: '^redhat' },
      { issuer: FULCIO_ISSUER, subject: FULCIO_SUBJECT, github: { repository: 'containers/image' } },
    ]) {
      assertRefused(await fulcio(identity), 'wrong-identity');
    }
  });

  test('fulcio-rekor: under another trust root, or as a private-CA identity, the certificate is untrusted', async () => {
    assertRefused(
      await pull('fulcio', { root: 'test', identities: [{ issuer: FULCIO_ISSUER, subject: FULCIO_SUBJECT }] }),
      'untrusted-certificate',
    );
    assertRefused(
      await pull('fulcio', { identities: [{ ca: 'test-ca', subject: FULCIO_SUBJECT }] }),
      'untrusted-certificate',
    );
  });

  test('pki: the private CA’s identity, by either subject alternative name, is served byte-exact', async () => {
    for (const subject of [PKI_EMAIL, PKI_DNS]) {
      assertServed(await pull('pki', { identities: [{ ca: 'pki', subject }] }), pkiImage);
    }
  });

  test('pki: the CA configured with its root only: the signature’s chain annotation brings the intermediate', async () => {
    assertServed(await pull('pki', { identities: [{ ca: 'pki-roots-only', subject: PKI_EMAIL }] }), pkiImage);
  });

  test('pki: outside its validity at the gate’s clock the certificate is untrusted; the Fulcio one is unaffected', async () => {
    for (const at of ['2024-09-30T00:00:00Z', '2052-02-17T00:00:00Z']) {
      assertRefused(
        await pull('pki', { identities: [{ ca: 'pki', subject: PKI_EMAIL }] }, new Date(at)),
        'untrusted-certificate',
      );
    }
    // The Fulcio certificate expired minutes after it signed in 2023: only its logged time counts, never the clock.
    assertServed(
      await pull(
        'fulcio',
        { root: 'public-good', identities: [{ issuer: FULCIO_ISSUER, subject: FULCIO_SUBJECT }] },
        new Date('2052-02-17T00:00:00Z'),
      ),
      fulcioImage,
    );
  });

  test('pki: another subject, or an OIDC issuer the certificate does not carry, is wrong-identity', async () => {
    assertRefused(await pull('pki', { identities: [{ ca: 'pki', subject: 'someone@redhat.com' }] }), 'wrong-identity');
    assertRefused(
      await pull('pki', { identities: [{ ca: 'pki', subject: PKI_EMAIL, issuer: FULCIO_ISSUER }] }),
      'wrong-identity',
    );
  });

  test('pki: another CA does not trust the certificate; a Sigstore root finds no trusted signing time first', async () => {
    assertRefused(await pull('pki', { identities: [{ ca: 'test-ca', subject: PKI_EMAIL }] }), 'untrusted-certificate');
    // Under a Sigstore root a certificate is checked at a logged or timestamped time, never the clock's: this one
    // has neither, which is what the refusal names.
    assertRefused(
      await pull('pki', { root: 'public-good', identities: [{ issuer: FULCIO_ISSUER, subject: PKI_EMAIL }] }),
      'timestamp-invalid',
    );
  });

  const kubewarden = {
    issuer: KW_ISSUER,
    subject: KW_SUBJECT,
    github: { repository: 'kubewarden/kubewarden-controller', ref: 'refs/tags/v1.34.0' },
  };

  test('v3 bundle: with the right identity only the digest it names differs (digest-mismatch)', async () => {
    const r = await pull('bundle', { root: 'public-good', identities: [kubewarden] });
    assertRefused(r, 'digest-mismatch', 'bundle');
    for (const a of r)
      assert.ok(
        a.message.includes('sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172'),
        a.message,
      );
    // The same with `tlog: optional` (the bundle's RFC 3161 timestamp is a trusted time of its own).
    assertRefused(
      await pull('bundle', { root: 'public-good', tlog: 'optional', identities: [kubewarden] }),
      'digest-mismatch',
      'bundle',
    );
  });

  test('v3 bundle: another issuer, subject or workflow ref is wrong-identity', async () => {
    for (const identity of [
      { ...kubewarden, issuer: 'https://accounts.google.com' },
      { ...kubewarden, subject: KW_SUBJECT.replace('v1.34.0', 'v1.35.0') },
      { ...kubewarden, github: { ref: 'refs/heads/main' } },
    ]) {
      assertRefused(await pull('bundle', { root: 'public-good', identities: [identity] }), 'wrong-identity', 'bundle');
    }
  });

  test('v3 bundle: under another trust root its timestamp authority, the first thing checked, is not trusted', async () => {
    assertRefused(await pull('bundle', { root: 'test', identities: [kubewarden] }), 'timestamp-invalid', 'bundle');
  });
});
