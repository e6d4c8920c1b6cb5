// Proves the registry launcher, the token issuer and the HTTP pusher against the real distribution 2.8: every auth
// mode round-trips the test images byte-exact, and the refusals a test relies on really happen.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildBigImage,
  buildImage,
  buildMultiArch,
  getBlob,
  getManifest,
  OCI_MANIFEST,
  pushBlob,
  pushImage,
  pushManifest,
  sha256,
  type TestImage,
} from '../helpers/images.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';
import { startRegistry, type Registry, type RegistryOptions } from '../helpers/registry.ts';
import { at, must } from '../helpers/must.ts';

const single = buildImage({ files: { 'hello.txt': 'helpers test\n' } });
const multi = buildMultiArch();

/** Push single + index, then read each back by tag and by digest and compare bytes and digests. */
async function roundTrip(reg: Registry): Promise<void> {
  assert.equal(await pushImage(reg, 'test/single', 'v1', single), single.digest);
  assert.equal(await pushImage(reg, 'test/multi', 'v1', multi), multi.digest);
  for (const [repo, img] of [
    ['test/single', single],
    ['test/multi', multi],
  ] as [string, TestImage][]) {
    for (const ref of ['v1', img.digest]) {
      const got = await getManifest(reg, repo, ref);
      assert.equal(got.status, 200, `${repo}:${ref}: ${got.bytes.toString()}`);
      assert.deepEqual(got.bytes, img.bytes);
      assert.equal(got.digest, img.digest);
      assert.equal(sha256(got.bytes), img.digest);
      assert.equal(got.mediaType, img.mediaType);
    }
  }
  for (const child of multi.manifests) {
    const got = await getManifest(reg, 'test/multi', child.digest);
    assert.deepEqual(got.bytes, child.bytes);
  }
  const [layer] = (JSON.parse(single.bytes.toString()) as { layers: { digest: string }[] }).layers;
  assert.equal(sha256(await getBlob(reg, 'test/single', must(layer, 'layer').digest)), must(layer, 'layer').digest);
}

/** Start one registry for a describe block and stop it afterwards, even when a test failed. */
function withRegistry(opts: RegistryOptions): () => Registry {
  let reg: Registry | undefined;
  before(async () => {
    reg = await startRegistry(opts);
  });
  after(async () => {
    await reg?.stop();
  });
  return () => must(reg, 'reg');
}

describe('registry helpers: anonymous', () => {
  const reg = withRegistry({ accessLog: false, logLevel: 'error' });
  test('pushes an image and an index and reads them back byte-exact', async () => {
    assert.match(reg().url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(reg().host, reg().url.slice('http://'.length));
    await roundTrip(reg());
  });
  test('pushes a hand-made manifest with a subject byte-exact, pretty-printed bytes included', async () => {
    const empty = Buffer.from('{}');
    await pushBlob(reg(), 'test/art', empty);
    const subject = { mediaType: single.mediaType, digest: single.digest, size: single.size };
    const manifest = Buffer.from(
      JSON.stringify(
        {
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          artifactType: 'application/vnd.example.test',
          config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(empty), size: 2 },
          layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(empty), size: 2 }],
          subject,
        },
        null,
        3,
      ),
    );
    const digest = await pushManifest(reg(), 'test/art', 'art1', manifest, OCI_MANIFEST);
    const got = await getManifest(reg(), 'test/art', digest);
    assert.deepEqual(got.bytes, manifest);
    assert.equal(got.digest, sha256(manifest));
  });
  test('a manifest whose blobs are missing is refused with the registry error', async () => {
    await assert.rejects(
      pushManifest(reg(), 'test/nothing', 'v1', single.bytes, single.mediaType),
      /HTTP 400 .*MANIFEST_BLOB_UNKNOWN/,
    );
  });
  test('pushes a big image whose layer is streamed from a file', async () => {
    const dir = tempDir('big');
    try {
      const big = await buildBigImage({ mib: 3, dir });
      assert.equal(await pushImage(reg(), 'test/big', 'v1', big), big.digest);
      const layer = at((JSON.parse(big.bytes.toString()) as { layers: { digest: string; size: number }[] }).layers, 0);
      const bytes = await getBlob(reg(), 'test/big', layer.digest);
      assert.equal(bytes.length, layer.size);
      assert.equal(sha256(bytes), layer.digest);
    } finally {
      removeTempDir(dir);
    }
  });
  test('an unknown tag reads as 404', async () => {
    assert.equal((await getManifest(reg(), 'test/single', 'no-such-tag')).status, 404);
  });
});

describe('registry helpers: htpasswd', () => {
  const reg = withRegistry({ auth: 'htpasswd' });
  test('round-trips with the returned credentials', async () => {
    assert.equal(reg().user, 'testuser');
    assert.equal(reg().pass, 'testpass');
    await roundTrip(reg());
  });
  test('refuses a wrong password and anonymous requests', async () => {
    await assert.rejects(pushImage({ ...reg(), pass: 'wrong' }, 'test/single', 'v2', single), /HTTP 401/);
    const anon = { url: reg().url };
    await assert.rejects(pushImage(anon, 'test/single', 'v2', single), /asks for credentials/);
    await assert.rejects(getManifest(anon, 'test/single', 'v1'), /asks for credentials/);
  });
});

describe('registry helpers: token', () => {
  const reg = withRegistry({ auth: 'token', token: { deny: ['test/denied'] } });
  test('round-trips with bearer tokens from the in-process issuer', async () => {
    assert.match(reg().tokenUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+\/token$/);
    await roundTrip(reg());
    assert.ok(
      must(reg().tokenServer, 'reg().tokenServer').requests.every((r) => r.status === 200 && r.user === 'testuser'),
    );
  });
  test('counts token requests: one per session', async () => {
    const issuer = must(reg().tokenServer, 'reg().tokenServer');
    issuer.reset();
    await getManifest(reg(), 'test/single', 'v1');
    assert.equal(issuer.count, 1);
    assert.deepEqual(issuer.requests[0]?.scopes, ['repository:test/single:pull']);
    await pushImage(reg(), 'test/other', 'v1', single);
    assert.equal(issuer.count, 2);
    assert.deepEqual(issuer.requests[1]?.scopes, ['repository:test/other:pull,push']);
  });
  test('a denied repository gets a token without actions and the registry refuses it', async () => {
    await assert.rejects(pushImage(reg(), 'test/denied', 'v1', single), /HTTP 401 .*UNAUTHORIZED/);
    assert.ok(
      must(reg().tokenServer, 'reg().tokenServer').requests.some(
        (r) => r.scopes.includes('repository:test/denied:pull,push') && r.status === 200,
      ),
    );
  });
  test('bad credentials and anonymous requests are refused by the issuer', async () => {
    await assert.rejects(getManifest({ ...reg(), pass: 'nope' }, 'test/single', 'v1'), /token request .* HTTP 401/);
    await assert.rejects(getManifest({ url: reg().url }, 'test/single', 'v1'), /token request .* HTTP 401/);
  });
});

describe('registry helpers: TLS with htpasswd', () => {
  const reg = withRegistry({ tls: true, auth: 'htpasswd' });
  test('round-trips over https trusting only the returned CA', async () => {
    assert.match(reg().url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.match(reg().caPem ?? '', /BEGIN CERTIFICATE/);
    assert.ok(reg().caFile?.startsWith(reg().certDir ?? '\0'));
    await roundTrip(reg());
  });
  test('without the CA the certificate is rejected', async () => {
    const { caPem: _ca, ...noCa } = reg();
    await assert.rejects(getManifest(noCa, 'test/single', 'v1'), /certificate/i);
  });
});

describe('registry helpers: pull-through proxy', () => {
  // A token upstream: distribution 2.8's proxy hands its remote credentials only to Bearer realms, never to Basic.
  const upstream = withRegistry({ auth: 'token', user: 'alice', pass: 's3cret' });
  let proxy: Registry | undefined;
  before(async () => {
    await pushImage(upstream(), 'test/multi', 'v1', multi);
    proxy = await startRegistry({ proxy: { remoteUrl: upstream().url, user: 'alice', pass: 's3cret' } });
  });
  after(async () => {
    await proxy?.stop();
  });
  test('serves the upstream image byte-exact, anonymously', async () => {
    for (const ref of ['v1', multi.digest]) {
      const got = await getManifest(must(proxy, 'proxy'), 'test/multi', ref);
      assert.equal(got.status, 200);
      assert.deepEqual(got.bytes, multi.bytes);
    }
    const child = at(multi.manifests, 0);
    const config = (JSON.parse(child.bytes.toString()) as { config: { digest: string } }).config.digest;
    assert.deepEqual(await getBlob(must(proxy, 'proxy'), 'test/multi', config), child.blobs.get(config));
  });
  test('refuses pushes and non-loopback remotes', async () => {
    await assert.rejects(pushImage(must(proxy, 'proxy'), 'test/pushme', 'v1', single), /UNSUPPORTED/);
    await assert.rejects(startRegistry({ proxy: { remoteUrl: 'https://registry-1.docker.io' } }), /not a loopback URL/);
  });
});
