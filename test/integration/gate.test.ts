// The signature gate in front of a REAL distribution registry, with signatures laid out exactly as cosign does
// (legacy .sig images and v3 bundles through the referrers tag schema), made by the project's own signer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { buildImage, buildMultiArch, pushImage, type TestImage } from '../helpers/images.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { newKey, signBundle, signLegacy, type TestKey } from '../helpers/cosign.ts';
import { createLogger } from '../../src/log.ts';
import { at, key, must } from '../helpers/must.ts';

const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';

async function pull(sw: RunningSigward, repo: string, ref: string, method: 'GET' | 'HEAD' = 'GET') {
  const r = await request(`${sw.url}/v2/example.test/${repo}/manifests/${ref}`, {
    method,
    headers: { accept: ACCEPT },
  });
  const body = Buffer.from(await r.body.arrayBuffer());
  const json = body.length > 0 && r.statusCode !== 200 ? JSON.parse(body.toString()) : undefined;
  return {
    status: r.statusCode,
    headers: r.headers as Record<string, string>,
    body,
    error: json?.errors?.[0] as OciError | undefined,
  };
}

interface OciError {
  code: string;
  message: string;
  detail?: { policy?: string; outcome?: string };
}

/** A 403 DENIED with exactly this decision outcome, whose message says `fragment`. */
function assertDenied(
  r: { status: number; body: Buffer; error?: OciError | undefined },
  outcome: string,
  fragment: string,
): void {
  assert.equal(r.status, 403, r.body.toString());
  assert.equal(r.error?.code, 'DENIED');
  assert.equal(r.error?.detail?.outcome, outcome, r.error?.message);
  assert.ok(r.error?.message.includes(fragment), `${JSON.stringify(fragment)} not in: ${r.error?.message}`);
}

describe('signature gate against distribution', () => {
  let reg: Registry;
  let sw: RunningSigward;
  const alice = newKey('alice');
  const bob = newKey('bob', 'ed25519');
  const carol = newKey('carol', 'rsa');
  const mallory = newKey('mallory');
  const img = (name: string): TestImage => buildImage({ files: { 'name.txt': `${name}\n` } });
  const images: Record<string, TestImage> = {};
  let multi: TestImage;

  const keyYaml = (k: TestKey) => ({ pem: k.publicPem });
  const config = (extra: Record<string, unknown> = {}) => ({
    upstreams: [{ host: 'example.test', url: reg.url }],
    trust: { keys: { alice: keyYaml(alice), bob: keyYaml(bob), carol: keyYaml(carol) } },
    policy: {
      default: 'deny',
      policies: [
        { name: 'apps', match: ['example.test/apps/*'], keys: ['alice'] },
        { name: 'annotated', match: ['example.test/annotated/*'], keys: ['alice'], annotations: { env: 'prod' } },
        { name: 'quorum', match: ['example.test/quorum/*'], keys: ['alice', 'bob', 'carol'], threshold: 2 },
        { name: 'rollout', match: ['example.test/rollout/*'], keys: ['alice'], mode: 'warn' },
        { name: 'indexonly', match: ['example.test/indexonly/*'], keys: ['alice'], platforms: 'index' },
        { name: 'childonly', match: ['example.test/childonly/*'], keys: ['alice'], platforms: 'child' },
        { name: 'multi', match: ['example.test/multi/*'], keys: ['alice'] },
        { name: 'bundles', match: ['example.test/bundles/*'], keys: ['alice'] },
        { name: 'third-party', match: ['example.test/vendor/*'], allow: 'unsigned' },
      ],
    },
    ...extra,
  });

  before(async () => {
    reg = await startRegistry();
    for (const name of [
      'signed',
      'unsigned',
      'wrongkey',
      'replayed',
      'tampered',
      'moving',
      'moving2',
      'annotated-ok',
      'annotated-missing',
      'q1',
      'q2',
      'warn',
      'vendor',
      'bundle',
      'attest',
    ]) {
      images[name] = img(name);
    }
    const push = (repo: string, tag: string, name: string) => pushImage(reg, repo, tag, key(images, name));
    await push('apps/signed', 'v1', 'signed');
    await signLegacy(reg, 'apps/signed', key(images, 'signed').digest, { keys: [alice] });
    await push('apps/unsigned', 'v1', 'unsigned');
    await push('apps/wrongkey', 'v1', 'wrongkey');
    await signLegacy(reg, 'apps/wrongkey', key(images, 'wrongkey').digest, { keys: [mallory] });
    // A valid alice signature of ANOTHER digest, copied under this digest's .sig tag.
    await push('apps/replayed', 'v1', 'replayed');
    await signLegacy(reg, 'apps/replayed', key(images, 'replayed').digest, {
      keys: [alice],
      claimedDigest: key(images, 'signed').digest,
    });
    await push('apps/tampered', 'v1', 'tampered');
    await signLegacy(reg, 'apps/tampered', key(images, 'tampered').digest, { keys: [alice], tamper: true });
    await push('apps/moving', 'v1', 'moving');
    await signLegacy(reg, 'apps/moving', key(images, 'moving').digest, { keys: [alice] });
    await push('apps/moving', 'other', 'moving2');
    await push('annotated/ok', 'v1', 'annotated-ok');
    await signLegacy(reg, 'annotated/ok', key(images, 'annotated-ok').digest, {
      keys: [alice],
      annotations: { env: 'prod' },
    });
    await push('annotated/missing', 'v1', 'annotated-missing');
    await signLegacy(reg, 'annotated/missing', key(images, 'annotated-missing').digest, {
      keys: [alice],
      annotations: { env: 'dev' },
    });
    await push('quorum/two', 'v1', 'q1');
    await signLegacy(reg, 'quorum/two', key(images, 'q1').digest, { keys: [alice, carol] });
    await push('quorum/one', 'v1', 'q2');
    await signLegacy(reg, 'quorum/one', key(images, 'q2').digest, { keys: [alice, alice] });
    await push('rollout/app', 'v1', 'warn');
    await push('vendor/tool', 'v1', 'vendor');
    multi = buildMultiArch();
    for (const repo of ['multi/app', 'indexonly/app', 'childonly/app']) await pushImage(reg, repo, 'v1', multi);
    await signLegacy(reg, 'multi/app', multi.digest, { keys: [alice] });
    // index mode: only a CHILD is signed -> the index does not pass, the child alone does not pass either.
    await signLegacy(reg, 'indexonly/app', at(multi.manifests, 0).digest, { keys: [alice] });
    // child mode: only the INDEX is signed -> the children are refused.
    await signLegacy(reg, 'childonly/app', multi.digest, { keys: [alice] });
    // cosign v3 bundles, found through the referrers tag schema (distribution 2.8 has no referrers API).
    await push('bundles/app', 'v1', 'bundle');
    const subj = (i: TestImage) => ({ mediaType: i.mediaType, size: i.size, digest: i.digest });
    await signBundle(reg, 'bundles/app', { key: alice, subject: subj(key(images, 'bundle')) });
    await push('bundles/attested', 'v1', 'attest');
    await signBundle(reg, 'bundles/attested', {
      key: alice,
      subject: subj(key(images, 'attest')),
      predicateType: 'https://spdx.dev/Document',
    });
    sw = await startSigward(config());
  });

  after(async () => {
    await sw?.stop();
    await reg?.stop();
  });

  test('a signed image is served byte-exact, by tag and by digest, GET and HEAD', async () => {
    const byTag = await pull(sw, 'apps/signed', 'v1');
    assert.equal(byTag.status, 200, byTag.body.toString());
    assert.deepEqual(byTag.body, key(images, 'signed').bytes);
    assert.equal(byTag.headers['docker-content-digest'], key(images, 'signed').digest);
    const byDigest = await pull(sw, 'apps/signed', key(images, 'signed').digest);
    assert.equal(byDigest.status, 200);
    assert.deepEqual(byDigest.body, key(images, 'signed').bytes);
    const head = await pull(sw, 'apps/signed', 'v1', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['docker-content-digest'], key(images, 'signed').digest);
  });

  // [repository, image, decision outcome, what the message says about the signature]
  const refusals: [string, string, string, string][] = [
    ['apps/unsigned', 'unsigned', 'no-signatures', 'No signatures were found for this digest'],
    [
      'apps/wrongkey',
      'wrongkey',
      'no-valid-signature',
      'not counted: unknown-key: signed by a key that is not trusted here',
    ],
    ['apps/replayed', 'replayed', 'no-valid-signature', 'not counted: digest-mismatch: signed for manifest'],
    // A tampered signature verifies under no trusted key: to the verifier it is a signature by an unknown key.
    [
      'apps/tampered',
      'tampered',
      'no-valid-signature',
      'not counted: unknown-key: signed by a key that is not trusted here',
    ],
    [
      'annotated/missing',
      'annotated-missing',
      'no-valid-signature',
      'not counted: missing-annotation: required annotation not met: env',
    ],
  ];
  for (const [repo, name, outcome, why] of refusals) {
    test(`refused: ${repo} — 403 DENIED with the reason, in the body and the reason phrase`, async () => {
      const r = await pull(sw, repo, 'v1');
      assertDenied(r, outcome, why);
      assert.match(
        must(r.error, 'r.error').message,
        new RegExp(key(images, name).digest.slice(7, 19)),
        'the message names the digest',
      );
      const head = await request(`${sw.url}/v2/example.test/${repo}/manifests/v1`, {
        method: 'HEAD',
        headers: { accept: ACCEPT },
      });
      await head.body.dump();
      assert.equal(head.statusCode, 403);
    });
  }

  test('an annotation that matches lets the image through', async () => {
    assert.equal((await pull(sw, 'annotated/ok', 'v1')).status, 200);
  });

  test('a tag moved to an unsigned digest is refused at once', async () => {
    assert.equal((await pull(sw, 'apps/moving', 'v1')).status, 200);
    await pushImage(reg, 'apps/moving', 'v1', key(images, 'moving2'));
    const r = await pull(sw, 'apps/moving', 'v1');
    assert.equal(r.status, 403);
    assert.match(must(r.error, 'r.error').message, new RegExp(key(images, 'moving2').digest.slice(7, 19)));
  });

  test('threshold 2 of 3 distinct keys: two signers pass, the same signer twice does not', async () => {
    assert.equal((await pull(sw, 'quorum/two', 'v1')).status, 200);
    assertDenied(
      await pull(sw, 'quorum/one', 'v1'),
      'threshold-not-met',
      'only 1 distinct key signed (alice), 2 are required',
    );
  });

  test('warn mode serves an unsigned image with a warning header', async () => {
    const r = await pull(sw, 'rollout/app', 'v1');
    assert.equal(r.status, 200);
    assert.match(r.headers.warning ?? '', /^299 sigward "/);
  });

  test('allow: unsigned is an explicit exception; no policy means denied with how to fix it', async () => {
    assert.equal((await pull(sw, 'vendor/tool', 'v1')).status, 200);
    await pushImage(reg, 'elsewhere/x', 'v1', key(images, 'vendor'));
    const r = await pull(sw, 'elsewhere/x', 'v1');
    assert.equal(r.status, 403);
    assert.match(must(r.error, 'r.error').message, /no policy matches example\.test\/elsewhere\/x/);
    assert.equal(
      sw.upstreamRequests.filter((q) => q.url.includes('/elsewhere/x/')).length,
      0,
      'refused before any upstream call',
    );
  });

  test('every pull let through without a signature is logged at info, with its policy', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger('info', { write: (l: string) => void lines.push(JSON.parse(l)) });
    const logged = await startSigward(config(), { logger });
    try {
      for (let i = 0; i < 2; i++) assert.equal((await pull(logged, 'vendor/tool', 'v1')).status, 200);
      const decisions = lines.filter((l) => l.msg === 'verification decision' && l.outcome === 'unsigned-allowed');
      assert.equal(decisions.length, 2, JSON.stringify(lines.filter((l) => l.msg === 'verification decision')));
      assert.equal(at(decisions, 0).policy, 'third-party');
    } finally {
      await logged.stop();
    }
  });

  test('multi-arch (either): a signed index lets its children through by digest', async () => {
    assert.equal((await pull(sw, 'multi/app', 'v1')).status, 200);
    for (const child of multi.manifests) assert.equal((await pull(sw, 'multi/app', child.digest)).status, 200);
  });

  test('platforms: index — a child-only signature is not enough', async () => {
    assert.equal((await pull(sw, 'indexonly/app', 'v1')).status, 403);
    const child = await pull(sw, 'indexonly/app', at(multi.manifests, 0).digest);
    assert.equal(child.status, 403);
  });

  test('platforms: child — an index-only signature does not let children through', async () => {
    assert.equal((await pull(sw, 'childonly/app', 'v1')).status, 200, 'the index itself is a list of pointers');
    const child = await pull(sw, 'childonly/app', at(multi.manifests, 0).digest);
    assert.equal(child.status, 403);
  });

  test('cosign v3 bundle through the referrers tag schema verifies; an attestation of another type does not count', async () => {
    const ok = await pull(sw, 'bundles/app', 'v1');
    assert.equal(ok.status, 200, ok.body.toString());
    assertDenied(
      await pull(sw, 'bundles/attested', 'v1'),
      'no-valid-signature',
      'not counted: wrong-predicate: statement predicateType is "https://spdx.dev/Document"',
    );
  });

  test('signature artifacts pass through so cosign can verify through sigward', async () => {
    const tag = `sha256-${key(images, 'signed').digest.slice(7)}.sig`;
    const r = await pull(sw, 'apps/signed', tag);
    assert.equal(r.status, 200);
  });

  test('after a restart, a child with no signature and no verified index is refused with a hint to pull the index', async () => {
    const fresh = await startSigward(config());
    try {
      const r = await pull(fresh, 'multi/app', at(multi.manifests, 1).digest);
      assertDenied(r, 'no-signatures', 'pull the image by its tag or index digest');
    } finally {
      await fresh.stop();
    }
  });
});
