// Keyless and certificate signatures through the sigward DAEMON: fresh images pushed to a real distribution registry,
// signed by the in-process test sigstore (Fulcio-style certificates with SCTs, a Rekor log, a TSA; test-sigstore.ts)
// and by private CAs, in both formats cosign writes: a legacy `.sig` image whose layer carries the certificate, chain,
// Rekor bundle and timestamp annotations, and a cosign v3 bundle referrer (through the referrers tag schema:
// distribution 2.8 has no referrers API). Pulled through sigward by tag and by digest with skopeo and with plain
// HTTP: the right identity is served byte-exact; a wrong issuer, subject, GitHub claim, trust root or CA is refused
// with the reason in the status line and the body. Also: `tlog: optional` lets a TSA timestamp alone give the signing
// time, `tlog: required` does not; key signatures under `tlog: required` count only when logged in the root's log;
// a keylessly signed index covers the platform manifests it lists (platforms: either), and not under `both`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Digest } from '../../src/oci/digest.ts';
import type { LegacyLayerInput } from '../../src/sign/legacy-image.ts';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { newKey, pushBundleReferrer, pushLegacySignature } from '../helpers/cosign.ts';
import { buildImage, buildMultiArch, pushImage, type TestImage } from '../helpers/images.ts';
import { rawGet, ociErrorOf, type RawResponse } from '../helpers/raw-http.ts';
import { settledAccessLines } from '../helpers/pull-evidence.ts';
import { ALL_MANIFEST_TYPES } from '../helpers/registry-client.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';
import { startSigwardProcess, type RunningSigward } from '../helpers/sigward.ts';
import { createSkopeo, type Skopeo } from '../helpers/skopeo.ts';
import {
  createTestCa,
  createTestSigstore,
  type IssuedCert,
  type IssueOptions,
  type TestSigstore,
} from '../helpers/test-sigstore.ts';

const GOOGLE = 'https://accounts.google.com';
const GITHUB_ACTIONS = 'https://token.actions.githubusercontent.com';
const DEV = 'dev@example.com';
const WORKFLOW = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
const BUILDER = 'builder@corp.example';

const main = createTestSigstore();
const other = createTestSigstore();
const corp = createTestCa();
const rogue = createTestCa();
const release = newKey('release');

type Format = 'legacy' | 'bundle';
const FORMATS: readonly Format[] = ['legacy', 'bundle'];

/** How one image is signed: a certificate signature (Fulcio-style from `sigstore`, or `cert` from a private CA),
 * or a key signature (`key`), logged in `sigstore`'s Rekor unless `tlog` is false. */
interface Signing {
  readonly sigstore?: TestSigstore;
  readonly identity?: string;
  readonly issue?: IssueOptions;
  readonly cert?: IssuedCert;
  readonly key?: boolean;
  readonly tlog?: boolean;
  readonly tsa?: boolean;
}

interface Case {
  /** The repository under example.test (the policy is chosen by its first segment); `-<format>` is appended. */
  readonly repo: string;
  readonly title: string;
  /** Default: both. */
  readonly formats?: readonly Format[];
  readonly signing: Signing;
  /** Served, signed by this policy signer; or refused, the one signature found not counted for this reason. */
  readonly expect: { readonly signer: string } | { readonly reason: string };
}

const CASES: readonly Case[] = [
  {
    repo: 'keyless/good',
    title: 'the policy identity (subject and issuer) with a logged certificate',
    signing: { identity: DEV },
    expect: { signer: 'dev' },
  },
  {
    repo: 'keyless/wrong-issuer',
    title: 'the right subject from another OIDC issuer',
    signing: { identity: DEV, issue: { issuer: 'https://github.com/login/oauth' } },
    expect: { reason: 'wrong-identity' },
  },
  {
    repo: 'keyless/wrong-subject',
    title: 'another subject from the right issuer',
    signing: { identity: 'eve@example.com' },
    expect: { reason: 'wrong-identity' },
  },
  {
    repo: 'keyless/foreign-root',
    title: 'the right identity certified by another trust root than the policy names',
    signing: { sigstore: other, identity: DEV },
    expect: { reason: 'untrusted-certificate' },
  },
  {
    repo: 'other/good',
    title: 'the same certificate under a policy whose `root:` is that other root',
    signing: { sigstore: other, identity: DEV },
    expect: { signer: 'dev-elsewhere' },
  },
  {
    repo: 'ci/good',
    title: 'a workflow identity whose GitHub repository and ref claims match',
    signing: { identity: WORKFLOW, issue: { github: { repository: 'acme/app', ref: 'refs/heads/main' } } },
    expect: { signer: 'ci' },
  },
  {
    repo: 'ci/wrong-ref',
    title: 'the same workflow subject, but the ref claim names another branch',
    signing: { identity: WORKFLOW, issue: { github: { repository: 'acme/app', ref: 'refs/heads/dev' } } },
    expect: { reason: 'wrong-identity' },
  },
  {
    repo: 'ci/no-claims',
    title: 'the same workflow subject with no GitHub claims at all',
    signing: { identity: WORKFLOW },
    expect: { reason: 'wrong-identity' },
  },
  {
    repo: 'corp/good',
    title: 'a private-CA certificate of the configured CA (no log, checked at the current time)',
    signing: { cert: corp.issue({ subject: BUILDER }), tlog: false },
    expect: { signer: 'builder' },
  },
  {
    repo: 'corp/rogue-ca',
    title: 'the same subject certified by another private CA',
    signing: { cert: rogue.issue({ subject: BUILDER }), tlog: false },
    expect: { reason: 'untrusted-certificate' },
  },
  {
    repo: 'corp/fulcio',
    title: 'the same subject in a Fulcio-style certificate, which the CA did not issue',
    signing: { identity: BUILDER },
    expect: { reason: 'untrusted-certificate' },
  },
  {
    repo: 'tsa-optional/tsa-only',
    title: 'tlog: optional, no log entry but an RFC 3161 timestamp',
    signing: { identity: DEV, tlog: false, tsa: true },
    expect: { signer: 'dev' },
  },
  {
    repo: 'tsa-optional/no-time',
    title: 'tlog: optional, neither a log entry nor a timestamp (no trusted signing time)',
    signing: { identity: DEV, tlog: false },
    expect: { reason: 'timestamp-invalid' },
  },
  {
    repo: 'tsa-required/tsa-only',
    title: 'tlog: required, no log entry but an RFC 3161 timestamp',
    signing: { identity: DEV, tlog: false, tsa: true },
    expect: { reason: 'tlog-invalid' },
  },
  {
    repo: 'keylog/logged',
    title: 'tlog: required, a key signature logged in the root’s Rekor',
    formats: ['legacy'],
    signing: { key: true },
    expect: { signer: 'release' },
  },
  {
    repo: 'keylog/unlogged',
    title: 'tlog: required, the same key signature without a log entry',
    formats: ['legacy'],
    signing: { key: true, tlog: false },
    expect: { reason: 'tlog-invalid' },
  },
  {
    repo: 'keylog/foreign-log',
    title: 'tlog: required, a key signature logged in another root’s Rekor',
    formats: ['legacy'],
    signing: { key: true, sigstore: other },
    expect: { reason: 'tlog-invalid' },
  },
];

const accept = { accept: ALL_MANIFEST_TYPES };
const repoOf = (c: Case, f: Format): string => `${c.repo}-${f}`;
const served = (c: Case): c is Case & { expect: { signer: string } } => 'signer' in c.expect;
const reasonOf = (c: Case): string => ('reason' in c.expect ? c.expect.reason : '');

/** The legacy `.sig` layer of `image` in `repo`, signed as `s` says. */
function legacyLayer(repo: string, image: TestImage, s: Signing): LegacyLayerInput {
  const sigstore = s.sigstore ?? main;
  const payload = simpleSigningPayload({ dockerReference: `example.test/${repo}`, digest: image.digest });
  const sig = s.key
    ? sigstore.signLegacyWithKey({ payload, privateKey: release.privateKey, tsa: s.tsa ?? false })
    : sigstore.signLegacy({
        payload,
        identity: s.identity ?? '',
        ...(s.issue ? { issue: s.issue } : {}),
        ...(s.cert ? { cert: s.cert } : {}),
        tlog: s.tlog ?? true,
        tsa: s.tsa ?? false,
      });
  // signLegacyWithKey always logs; an unlogged key signature is the same layer without the Rekor bundle.
  const annotations = { ...sig.annotations };
  if (s.key && s.tlog === false) delete annotations['dev.sigstore.cosign/bundle'];
  return { payload, signature: sig.signature, annotations };
}

/** Sign `image` in `repo` of the registry as `s` says, in format `f`. */
async function sign(reg: Registry, repo: string, image: TestImage, f: Format, s: Signing): Promise<void> {
  if (f === 'legacy') {
    await pushLegacySignature(reg, repo, image.digest, [legacyLayer(repo, image, s)]);
    return;
  }
  if (s.key) throw new Error('key-signed bundles are not made by the test sigstore');
  const bundle = (s.sigstore ?? main).signBundle({
    digest: image.digest as Digest,
    identity: s.identity ?? '',
    ...(s.issue ? { issue: s.issue } : {}),
    ...(s.cert ? { cert: s.cert } : {}),
    tlog: s.tlog ?? true,
    tsa: s.tsa ?? false,
  });
  await pushBundleReferrer(reg, repo, Buffer.from(bundle.json), {
    mediaType: image.mediaType,
    size: image.size,
    digest: image.digest,
  });
}

describe('keyless signatures through the daemon', () => {
  let reg: Registry;
  let sw: RunningSigward;
  let skopeo: Skopeo;
  let dir: string;
  const images = new Map<string, TestImage>();
  const multi = { legacy: buildMultiArch({ 'm.txt': 'legacy' }), bundle: buildMultiArch({ 'm.txt': 'bundle' }) };
  const both = buildMultiArch({ 'm.txt': 'platforms both' });
  const mixed = buildImage({ files: { 'hello.txt': 'one wrong, one right\n' } });
  const twoSigned = buildImage({ files: { 'hello.txt': 'a key and an identity\n' } });
  const oneSigned = buildImage({ files: { 'hello.txt': 'an identity only\n' } });

  before(async () => {
    dir = tempDir('keyless');
    const file = (name: string, text: string): string => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    reg = await startRegistry();
    // Every repository is pushed and signed on its own, all of them at once (the registry takes them concurrently).
    const pushes: Promise<void>[] = [];
    for (const c of CASES) {
      for (const f of c.formats ?? FORMATS) {
        const repo = repoOf(c, f);
        const image = buildImage({ files: { 'hello.txt': `${repo}\n` } });
        images.set(repo, image);
        pushes.push(pushImage(reg, repo, 'v1', image).then(() => sign(reg, repo, image, f, c.signing)));
      }
    }
    for (const f of FORMATS) {
      const repo = `keyless/multi-${f}`;
      pushes.push(pushImage(reg, repo, 'v1', multi[f]).then(() => sign(reg, repo, multi[f], f, { identity: DEV })));
    }
    pushes.push(
      (async () => {
        // platforms: both: the index and its first platform manifest are signed, the second is not.
        await pushImage(reg, 'both/multi', 'v1', both);
        await sign(reg, 'both/multi', both, 'legacy', { identity: DEV });
        await sign(reg, 'both/multi', both.manifests[0] as TestImage, 'bundle', { identity: DEV });
      })(),
      (async () => {
        // A wrong-identity legacy signature next to a right bundle signature.
        await pushImage(reg, 'keyless/mixed', 'v1', mixed);
        await sign(reg, 'keyless/mixed', mixed, 'legacy', { identity: 'eve@example.com' });
        await sign(reg, 'keyless/mixed', mixed, 'bundle', { identity: DEV });
      })(),
      (async () => {
        // threshold 2 of a key and an identity: one `.sig` image with a key layer and a keyless layer, and one with
        // the keyless layer only.
        await pushImage(reg, 'two/both', 'v1', twoSigned);
        await pushLegacySignature(reg, 'two/both', twoSigned.digest, [
          legacyLayer('two/both', twoSigned, { key: true, tlog: false }),
          legacyLayer('two/both', twoSigned, { identity: DEV }),
        ]);
      })(),
      pushImage(reg, 'two/one', 'v1', oneSigned).then(() =>
        sign(reg, 'two/one', oneSigned, 'legacy', { identity: DEV }),
      ),
    );
    await Promise.all(pushes);

    const dev = { name: 'dev', issuer: GOOGLE, subject: DEV };
    sw = await startSigwardProcess({
      upstreams: [{ host: 'example.test', url: reg.url }],
      cache: { dir: join(dir, 'cache') },
      trust: {
        keys: { release: { pem: release.publicPem } },
        roots: {
          main: { trustedRoot: file('main.trusted_root.json', main.trustedRootJson) },
          other: { trustedRoot: file('other.trusted_root.json', other.trustedRootJson) },
        },
        cas: {
          corp: {
            roots: file('corp-roots.pem', corp.rootsPem),
            intermediates: file('corp-int.pem', corp.intermediatesPem),
          },
        },
      },
      policy: {
        default: 'deny',
        policies: [
          { name: 'keyless', match: ['example.test/keyless/*'], root: 'main', identities: [dev] },
          {
            name: 'other-root',
            match: ['example.test/other/*'],
            root: 'other',
            identities: [{ ...dev, name: 'dev-elsewhere' }],
          },
          {
            name: 'ci',
            match: ['example.test/ci/*'],
            root: 'main',
            identities: [
              {
                name: 'ci',
                issuer: GITHUB_ACTIONS,
                subjectRegExp: '^https://github\\.com/acme/',
                github: { repository: 'acme/app', ref: 'refs/heads/main' },
              },
            ],
          },
          {
            name: 'corp',
            match: ['example.test/corp/*'],
            identities: [{ name: 'builder', ca: 'corp', subject: BUILDER }],
          },
          {
            name: 'tsa-optional',
            match: ['example.test/tsa-optional/*'],
            root: 'main',
            tlog: 'optional',
            identities: [dev],
          },
          {
            name: 'tsa-required',
            match: ['example.test/tsa-required/*'],
            root: 'main',
            tlog: 'required',
            identities: [dev],
          },
          { name: 'keylog', match: ['example.test/keylog/*'], root: 'main', tlog: 'required', keys: ['release'] },
          { name: 'both', match: ['example.test/both/*'], root: 'main', platforms: 'both', identities: [dev] },
          {
            name: 'two',
            match: ['example.test/two/*'],
            root: 'main',
            keys: ['release'],
            identities: [dev],
            threshold: 2,
          },
        ],
      },
    });
    skopeo = createSkopeo({ sigward: sw.host, prefix: 'example.test' });
  });

  after(async () => {
    skopeo?.remove();
    await sw?.stop();
    await reg?.stop();
    if (dir) removeTempDir(dir);
  });

  const get = (path: string): Promise<RawResponse> => rawGet(`${sw.url}/v2/example.test/${path}`, { headers: accept });

  /** What the daemon logged for the answered request `r`: its access line's outcome and, when the verdict was not
   * taken from the cache (a cached one is logged at debug), the signers of its verification decision line. */
  async function logged(r: RawResponse): Promise<{ outcome: string | undefined; signers: string[] | undefined }> {
    const logFile = sw.logFile as string;
    await settledAccessLines(sw.url, logFile); // the log is written asynchronously: wait (bounded) for its lines
    const lines = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { reqId?: string; msg?: string; outcome?: string; signers?: string[] })
      .filter((l) => l.reqId === r.headers['x-request-id']);
    return {
      outcome: lines.find((l) => l.msg === 'request')?.outcome,
      signers: lines.find((l) => l.msg === 'verification decision')?.signers,
    };
  }

  /** A refusal of one signature for `reason`: status line, OCI body and the per-signature line all say so. */
  function assertRefused(r: RawResponse, reason: string, what: string): void {
    assert.equal(r.status, 403, `${what}: ${r.body.toString()}`);
    assert.equal(r.reason, `Forbidden (no valid signature (1 found: ${reason}))`, what);
    const err = ociErrorOf(r.body);
    assert.equal(err?.code, 'DENIED', what);
    assert.equal(err?.detail?.outcome, 'no-valid-signature', what);
    assert.ok(err?.message.includes(`: not counted: ${reason}: `), `${what}: ${err?.message ?? ''}`);
  }

  for (const c of CASES) {
    for (const f of c.formats ?? FORMATS) {
      const repo = repoOf(c, f);
      const verb = served(c) ? 'served' : `refused (${reasonOf(c)})`;
      test(`${f}: ${c.title} -> ${verb}, by tag and by digest, over HTTP and with skopeo`, async () => {
        const image = images.get(repo) as TestImage;
        // What containerd and docker ask first: HEAD by tag, answered as the GET will be. It is the first request:
        // its verdict is the one computed (later ones come from the cache), so its decision line names the signers.
        const head = await rawGet(`${sw.url}/v2/example.test/${repo}/manifests/v1`, {
          method: 'HEAD',
          headers: accept,
        });
        if (served(c)) {
          assert.equal(head.status, 200, `HEAD ${repo}:v1`);
          assert.deepEqual(await logged(head), { outcome: 'verified', signers: [c.expect.signer] });
        } else {
          assert.equal(head.status, 403, `HEAD ${repo}:v1`);
          assert.equal(head.reason, `Forbidden (no valid signature (1 found: ${reasonOf(c)}))`, `HEAD ${repo}:v1`);
        }
        for (const ref of ['v1', image.digest]) {
          const what = `${repo}:${ref}`;
          const r = await get(`${repo}/manifests/${ref}`);
          const sk = await skopeo.inspectRaw(`example.test/${repo}${ref === 'v1' ? ':v1' : `@${ref}`}`);
          if (served(c)) {
            assert.equal(r.status, 200, `${what}: ${r.body.toString()}`);
            assert.deepEqual(r.body, image.bytes, what);
            assert.equal(r.headers['docker-content-digest'], image.digest, what);
            assert.equal((await logged(r)).outcome, 'verified', what);
            assert.equal(sk.code, 0, `${what}: ${sk.stderr}`);
            assert.equal(sk.stdout, image.bytes.toString(), what);
          } else {
            const reason = reasonOf(c);
            assertRefused(r, reason, what);
            assert.notEqual(sk.code, 0, what);
            assert.ok(sk.stderr.includes(`not counted: ${reason}`), `${what}: ${sk.stderr}`);
          }
        }
      });
    }
  }

  test('a wrong-identity signature next to a right one: the right one counts', async () => {
    const r = await get('keyless/mixed/manifests/v1');
    assert.equal(r.status, 200, r.body.toString());
    assert.deepEqual(r.body, mixed.bytes);
    assert.deepEqual(await logged(r), { outcome: 'verified', signers: ['dev'] });
  });

  test('keys alongside identities: threshold 2 is met by the key and the identity, not by the identity alone', async () => {
    const r = await get('two/both/manifests/v1');
    assert.equal(r.status, 200, r.body.toString());
    assert.deepEqual(r.body, twoSigned.bytes);
    assert.deepEqual(await logged(r), { outcome: 'verified', signers: ['dev', 'release'] });
    const one = await get(`two/one/manifests/${oneSigned.digest}`);
    assert.equal(one.status, 403);
    assert.ok(one.reason.startsWith('Forbidden (threshold not met: 1 of 2 '), one.reason);
    assert.equal(ociErrorOf(one.body)?.detail?.outcome, 'threshold-not-met');
  });

  test('skopeo copies keylessly signed single images whole (manifest, config and layer through sigward)', async () => {
    for (const f of FORMATS) {
      const out = join(dir, `copy-${f}`);
      const r = await skopeo.run(['copy', `docker://example.test/keyless/good-${f}:v1`, `oci:${out}:x`]);
      assert.equal(r.code, 0, r.stderr);
    }
  });

  test('/sget/ hands out the file of a keylessly signed artifact by tag, and refuses a wrong identity', async () => {
    for (const f of FORMATS) {
      const image = images.get(`keyless/good-${f}`) as TestImage;
      const [layer] = (JSON.parse(image.bytes.toString()) as { layers: { digest: string }[] }).layers;
      const r = await rawGet(`${sw.url}/sget/example.test/keyless/good-${f}:v1`);
      assert.equal(r.status, 200, r.body.toString());
      assert.deepEqual(r.body, Buffer.from(image.blobs.get(layer?.digest ?? '') as Uint8Array));
      assert.equal(r.headers['x-sigward-outcome'], 'verified');
      assert.equal(r.headers['x-sigward-signers'], 'dev');
      const refused = await rawGet(`${sw.url}/sget/example.test/keyless/wrong-subject-${f}:v1`);
      assert.equal(refused.status, 403);
      assert.equal(refused.reason, 'Forbidden (no valid signature (1 found: wrong-identity))');
    }
  });

  for (const f of FORMATS) {
    test(`${f}: a keylessly signed index covers its platform manifests (platforms: either)`, async () => {
      const repo = `keyless/multi-${f}`;
      const index = multi[f];
      const [first, second] = index.manifests as [TestImage, TestImage];
      // Before the index is verified, a platform manifest by digest is an image on its own: it has no signature.
      const early = await get(`${repo}/manifests/${first.digest}`);
      assert.equal(early.status, 403);
      assert.equal(ociErrorOf(early.body)?.detail?.outcome, 'no-signatures');

      const copied = await skopeo.copyAll(`example.test/${repo}:v1`, join(dir, `multi-${f}`));
      assert.equal(copied.code, 0, copied.stderr);
      const byTag = await get(`${repo}/manifests/v1`);
      assert.equal(byTag.status, 200);
      assert.deepEqual(byTag.body, index.bytes);
      assert.equal((await logged(byTag)).outcome, 'verified');
      for (const child of [first, second]) {
        const r = await get(`${repo}/manifests/${child.digest}`);
        assert.equal(r.status, 200, r.body.toString());
        assert.deepEqual(r.body, child.bytes);
        assert.equal((await logged(r)).outcome, 'covered-by-index');
      }
    });
  }

  test('platforms: both: the signed index and signed platform manifest are served, the unsigned one is not', async () => {
    const [first, second] = both.manifests as [TestImage, TestImage];
    const index = await get('both/multi/manifests/v1');
    assert.equal(index.status, 200, index.body.toString());
    assert.deepEqual(await logged(index), { outcome: 'verified', signers: ['dev'] });
    const signed = await get(`both/multi/manifests/${first.digest}`);
    assert.equal(signed.status, 200, signed.body.toString());
    assert.deepEqual(await logged(signed), { outcome: 'verified', signers: ['dev'] });
    const unsigned = await get(`both/multi/manifests/${second.digest}`);
    assert.equal(unsigned.status, 403);
    assert.equal(ociErrorOf(unsigned.body)?.detail?.outcome, 'no-signatures');
    const copied = await skopeo.copyAll('example.test/both/multi:v1', join(dir, 'both'));
    assert.notEqual(copied.code, 0);
    assert.ok(copied.stderr.includes('no signatures were found'), copied.stderr);
  });
});
