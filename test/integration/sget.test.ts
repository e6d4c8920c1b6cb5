// /sget against a REAL distribution registry, signatures laid out exactly as cosign does: who may download what
// (by tag only with a verified signature; by digest what a pull would get; bare blobs), which file of an artifact,
// and the headers a download carries. Refusals must come before any byte of the artifact is fetched or sent.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { OCI_INDEX, OCI_MANIFEST, pushBlob, pushManifest, sha256 } from '../helpers/images.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { newKey, signLegacy } from '../helpers/cosign.ts';
import { ociErrorOf, rawGet } from '../helpers/raw-http.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';
import { at, key } from '../helpers/must.ts';

interface File {
  title?: string;
  data: Buffer;
  mediaType: string;
  digest: string;
}
interface Artifact {
  bytes: Buffer;
  digest: string;
  files: File[];
}

const EMPTY = Buffer.from('{}');

function artifact(files: { title?: string; data: string; mediaType?: string }[]): Artifact {
  const fs = files.map((f) => ({
    ...f,
    data: Buffer.from(f.data),
    mediaType: f.mediaType ?? 'application/octet-stream',
    digest: sha256(Buffer.from(f.data)),
  }));
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/vnd.sigward.test.file',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(EMPTY), size: EMPTY.length },
      layers: fs.map((f) => ({
        mediaType: f.mediaType,
        digest: f.digest,
        size: f.data.length,
        ...(f.title ? { annotations: { 'org.opencontainers.image.title': f.title } } : {}),
      })),
    }),
  );
  return { bytes, digest: sha256(bytes), files: fs };
}

async function pushArtifact(reg: Registry, repo: string, ref: string, a: Artifact): Promise<void> {
  await pushBlob(reg, repo, EMPTY);
  for (const f of a.files) await pushBlob(reg, repo, f.data);
  await pushManifest(reg, repo, ref, a.bytes, OCI_MANIFEST);
}

describe('sget against distribution', () => {
  let reg: Registry;
  let sw: RunningSigward;
  let cacheDir: string;
  const alice = newKey('alice');
  const mallory = newKey('mallory');
  const script = (name: string) =>
    artifact([{ title: `${name}.sh`, data: `#!/bin/sh\necho ${name}\n`, mediaType: 'application/x-sh' }]);
  const A: Record<string, Artifact> = {};
  let index: { bytes: Buffer; digest: string; children: Artifact[] };

  before(async () => {
    reg = await startRegistry();
    for (const n of ['signed', 'unsigned', 'wrongkey', 'free', 'warn', 'blocked', 'nopolicy', 'headonly'])
      A[n] = script(n);
    A.multi = artifact([
      { title: 'a.txt', data: 'file a\n' },
      { title: 'b.txt', data: 'file b\n', mediaType: 'text/plain' },
    ]);
    A.big = artifact([{ title: 'big.bin', data: 'x'.repeat(8192) }]);
    const put = async (repo: string, name: string) => pushArtifact(reg, repo, 'v1', key(A, name));
    await put('apps/signed', 'signed');
    await signLegacy(reg, 'apps/signed', key(A, 'signed').digest, { keys: [alice] });
    await put('apps/headonly', 'headonly');
    await signLegacy(reg, 'apps/headonly', key(A, 'headonly').digest, { keys: [alice] });
    await put('apps/unsigned', 'unsigned');
    await put('apps/wrongkey', 'wrongkey');
    await signLegacy(reg, 'apps/wrongkey', key(A, 'wrongkey').digest, { keys: [mallory] });
    await put('apps/multi', 'multi');
    await signLegacy(reg, 'apps/multi', key(A, 'multi').digest, { keys: [alice] });
    await put('apps/big', 'big');
    await signLegacy(reg, 'apps/big', key(A, 'big').digest, { keys: [alice] });
    await put('tools/free', 'free');
    await put('rollout/app', 'warn');
    await put('blocked/app', 'blocked');
    await put('other/app', 'nopolicy');
    // An index of two single-file artifacts (cosign upload blob with platforms): signed at the index only.
    const children = [script('amd64'), script('arm64')];
    for (const c of children) await pushArtifact(reg, 'apps/index', c.digest, c);
    const ib = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: children.map((c) => ({ mediaType: OCI_MANIFEST, digest: c.digest, size: c.bytes.length })),
      }),
    );
    index = { bytes: ib, digest: sha256(ib), children };
    await pushManifest(reg, 'apps/index', 'v1', ib, OCI_INDEX);
    await signLegacy(reg, 'apps/index', index.digest, { keys: [alice] });
    cacheDir = tempDir('sget-cache');
    sw = await startSigward({
      upstreams: [{ host: 'example.test', url: reg.url }],
      cache: { dir: cacheDir },
      sget: { storeSize: '16MiB', maxArtifactSize: '4KiB' },
      trust: { keys: { alice: { pem: alice.publicPem } } },
      policy: {
        default: 'deny',
        policies: [
          { name: 'apps', match: ['example.test/apps/*'], keys: ['alice'] },
          { name: 'rollout', match: ['example.test/rollout/*'], keys: ['alice'], mode: 'warn' },
          { name: 'tools', match: ['example.test/tools/*'], allow: 'unsigned' },
          { name: 'blocked', match: ['example.test/blocked/*'], reject: true },
        ],
      },
    });
  });

  after(async () => {
    await sw?.stop();
    await reg?.stop();
    if (cacheDir) removeTempDir(cacheDir);
  });

  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    rawGet(`${sw.url}${path}`, { method, headers });
  const blobGets = (digest: string) =>
    sw.upstreamRequests.filter((r) => r.method === 'GET' && r.url.endsWith(`/blobs/${digest}`)).length;

  test('by tag with a valid signature: the file, byte-exact, with its representation headers', async () => {
    const f = at(key(A, 'signed').files, 0);
    const r = await get('/sget/example.test/apps/signed:v1');
    assert.equal(r.status, 200, r.body.toString());
    assert.deepEqual(r.body, f.data);
    assert.equal(r.headers['content-type'], 'application/x-sh');
    assert.equal(r.headers['content-length'], String(f.data.length));
    assert.equal(r.headers.etag, `"${f.digest}"`);
    const b64 = createHash('sha256').update(f.data).digest('base64');
    assert.equal(r.headers['repr-digest'], `sha-256=:${b64}:`);
    assert.equal(r.headers.digest, `sha-256=${b64}`);
    assert.match(String(r.headers['content-disposition']), /filename="signed\.sh"/);
    assert.equal(r.headers['x-sigward-manifest-digest'], key(A, 'signed').digest);
    assert.equal(r.headers['x-sigward-signers'], 'alice');
    assert.equal(r.headers['cache-control'], 'no-cache');
  });

  test('HEAD answers from the checked manifest without downloading the file', async () => {
    const f = at(key(A, 'headonly').files, 0);
    const r = await get('/sget/example.test/apps/headonly:v1', {}, 'HEAD');
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
    assert.equal(r.headers['content-length'], String(f.data.length));
    assert.equal(r.headers.etag, `"${f.digest}"`);
    assert.equal(blobGets(f.digest), 0);
  });

  // [repository, artifact, decision outcome, what the message says, whether the upstream is asked first]
  const tagRefusals: [string, string, string, string, boolean][] = [
    ['apps/unsigned', 'unsigned', 'no-signatures', 'No signatures were found for this digest', true],
    [
      'apps/wrongkey',
      'wrongkey',
      'no-valid-signature',
      'not counted: unknown-key: signed by a key that is not trusted here',
      true,
    ],
    [
      'tools/free',
      'free',
      'unsigned-allowed',
      'allows example.test/tools/free without a signature (allow: unsigned)',
      false,
    ],
    ['other/app', 'nopolicy', 'no-policy', 'no policy matches example.test/other/app', false],
    ['blocked/app', 'blocked', 'rejected', 'policy "blocked" rejects example.test/blocked/app', false],
    ['rollout/app', 'warn', 'no-signatures', 'its warn mode lets pulls through, never a download by tag', true],
  ];
  for (const [repo, name, outcome, why, contactsUpstream] of tagRefusals) {
    test(`by tag, ${repo}: refused with 403 and nothing of the artifact fetched`, async () => {
      const before = sw.upstreamRequests.length;
      const r = await get(`/sget/example.test/${repo}:v1`);
      assert.equal(r.status, 403, r.body.toString());
      assert.equal(ociErrorOf(r.body)?.code, 'DENIED');
      const error = ociErrorOf(r.body);
      assert.equal(error?.detail?.outcome, outcome, error?.message);
      assert.ok(error?.message.includes(why), `${JSON.stringify(why)} not in: ${error?.message}`);
      assert.equal(blobGets(at(key(A, name).files, 0).digest), 0);
      // Without a signing policy the refusal comes before any upstream call.
      if (!contactsUpstream) assert.equal(sw.upstreamRequests.length, before);
    });
  }

  test('by digest: what a pull of that digest would get', async () => {
    const cases: [string, string, number][] = [
      ['tools/free', 'free', 200],
      ['apps/signed', 'signed', 200],
      ['apps/unsigned', 'unsigned', 403],
      ['other/app', 'nopolicy', 403],
      ['blocked/app', 'blocked', 403],
      ['rollout/app', 'warn', 200],
    ];
    for (const [repo, name, status] of cases) {
      const r = await get(`/sget/example.test/${repo}@${key(A, name).digest}`);
      assert.equal(r.status, status, `${repo}: ${r.body.toString()}`);
      if (status === 200) {
        assert.deepEqual(r.body, at(key(A, name).files, 0).data);
        assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable');
      } else assert.equal(blobGets(at(key(A, name).files, 0).digest), 0);
    }
    const warned = await get(`/sget/example.test/rollout/app@${key(A, 'warn').digest}`);
    assert.match(String(warned.headers.warning), /^299 sigward /);
  });

  test('a bare blob digest is served where no signature is required, refused where one is', async () => {
    const free = at(key(A, 'free').files, 0);
    const ok = await get(`/sget/example.test/tools/free/blobs/${free.digest}`);
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, free.data);
    assert.equal(ok.headers['content-type'], 'application/octet-stream');
    const signed = await get(`/sget/example.test/apps/unsigned/blobs/${at(key(A, 'unsigned').files, 0).digest}`);
    assert.equal(signed.status, 403);
    assert.match(ociErrorOf(signed.body)?.message ?? '', /signatures belong to artifacts/);
    const nopolicy = await get(`/sget/example.test/other/app/blobs/${at(key(A, 'nopolicy').files, 0).digest}`);
    assert.equal(nopolicy.status, 403);
  });

  test('several files: 409 listing the titles, ?file= picks one, an unknown title is 404', async () => {
    const none = await get('/sget/example.test/apps/multi:v1');
    assert.equal(none.status, 409);
    assert.match(ociErrorOf(none.body)?.message ?? '', /"a\.txt".*\n.*"b\.txt"/);
    const b = await get('/sget/example.test/apps/multi:v1?file=b.txt');
    assert.equal(b.status, 200);
    assert.deepEqual(b.body, at(key(A, 'multi').files, 1).data);
    assert.equal(b.headers['content-type'], 'text/plain');
    assert.match(String(b.headers['content-disposition']), /filename="b\.txt"/);
    const missing = await get('/sget/example.test/apps/multi:v1?file=c.txt');
    assert.equal(missing.status, 404);
    assert.match(ociErrorOf(missing.body)?.message ?? '', /no file titled "c\.txt".*\n.*a\.txt/);
    assert.equal(blobGets(at(key(A, 'multi').files, 0).digest), 0);
  });

  test('an index: 409 naming its manifests; a manifest it lists then passes by digest (covered by the signed index)', async () => {
    const r = await get('/sget/example.test/apps/index:v1');
    assert.equal(r.status, 409);
    const child = at(index.children, 1);
    assert.ok((ociErrorOf(r.body)?.message ?? '').includes(child.digest));
    const c = await get(`/sget/example.test/apps/index@${child.digest}`);
    assert.equal(c.status, 200, c.body.toString());
    assert.deepEqual(c.body, at(child.files, 0).data);
    assert.equal(c.headers['x-sigward-outcome'], 'covered-by-index');
  });

  test('an artifact over sget.maxArtifactSize is refused before its download', async () => {
    const r = await get('/sget/example.test/apps/big:v1');
    assert.equal(r.status, 502);
    assert.equal(ociErrorOf(r.body)?.code, 'SIZE_INVALID');
    assert.match(ociErrorOf(r.body)?.message ?? '', /sget\.maxArtifactSize/);
    assert.equal(blobGets(at(key(A, 'big').files, 0).digest), 0);
  });

  test('bad requests: no reference, no host, an unconfigured registry, a write', async () => {
    const before = sw.upstreamRequests.length;
    for (const [path, status, code] of [
      ['/sget/example.test/apps/signed', 404, 'NOT_FOUND'],
      ['/sget/apps/signed:v1', 404, 'NOT_FOUND'],
      ['/sget/evil.example/apps/signed:v1', 404, 'NAME_UNKNOWN'],
      ['/sget/example.test/apps/signed@sha256:abc', 400, 'DIGEST_INVALID'],
      ['/sget/example.test/Apps/signed:v1', 400, 'NAME_INVALID'],
    ] as const) {
      const r = await get(path);
      assert.equal(r.status, status, path);
      assert.equal(ociErrorOf(r.body)?.code, code, path);
    }
    const put = await get('/sget/example.test/apps/signed:v1', {}, 'PUT');
    assert.equal(put.status, 405);
    assert.equal(sw.upstreamRequests.length, before);
  });
});
