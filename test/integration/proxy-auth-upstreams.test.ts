// sigward (in-process) in front of real distribution registries that need credentials or TLS: htpasswd Basic auth
// with the password from a file and from an environment variable, bearer tokens from a token issuer (fetched once,
// then reused), a private CA through caFile, and what a user sees when any of that is missing or wrong.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage, buildMultiArch, pushImage, type TestImage } from '../helpers/images.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';
import { ociErrorOf, rawGet, type RawResponse } from '../helpers/raw-http.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { must } from '../helpers/must.ts';

const ACCEPT = { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' };
// Distinctive secrets, so a search of any answer or log for them cannot match by accident.
const PASSWORD = 'pw-Upstream-5f1c2e9a';
const WRONG = 'pw-Wrong-77ad03be';
const ALLOW_ALL = { default: 'allow' }; // this file tests upstream access; the gate has its own tests

const single = buildImage({ files: { 'hello.txt': 'behind an authenticating upstream\n' } });
const multi = buildMultiArch({ 'arch.txt': 'behind an authenticating upstream\n' });

/** Fetch every part of an image through sigward and check each byte; returns the number of requests made. */
async function pullAll(base: string, repo: string, tag: string, image: TestImage): Promise<number> {
  let requests = 0;
  const get = async (path: string, headers: Record<string, string> = {}): Promise<RawResponse> => {
    requests++;
    const r = await rawGet(`${base}/${repo}/${path}`, { headers });
    assert.equal(r.status, 200, `${repo}/${path}: ${r.body.toString()}`);
    return r;
  };
  const top = await get(`manifests/${tag}`, ACCEPT);
  assert.deepEqual(top.body, image.bytes);
  assert.equal(top.headers['docker-content-digest'], image.digest);
  const images = image.manifests.length > 0 ? image.manifests : [image];
  for (const img of images) {
    const m = await get(`manifests/${img.digest}`, ACCEPT);
    assert.deepEqual(m.body, img.bytes);
    for (const [digest, data] of img.blobs) {
      const b = await get(`blobs/${digest}`);
      assert.deepEqual(b.body, Buffer.from(data as Uint8Array));
    }
  }
  return requests;
}

function assertNoSecret(r: RawResponse, ...secrets: string[]): void {
  const text = `${r.reason}\n${JSON.stringify(r.headers)}\n${r.body.toString()}`;
  for (const s of secrets) {
    assert.ok(!text.includes(s), `the answer must not contain a password: ${text}`);
    assert.ok(!text.includes(Buffer.from(`testuser:${s}`).toString('base64')), 'nor its Basic encoding');
  }
}

function upstreamError(r: RawResponse, status: number): { code: string; message: string } {
  assert.equal(r.status, status, r.body.toString());
  const err = ociErrorOf(r.body);
  assert.ok(err, r.body.toString());
  return err;
}

describe('htpasswd (Basic) upstream', () => {
  let reg: Registry;
  let sw: RunningSigward;
  let dir: string;

  before(async () => {
    reg = await startRegistry({ auth: 'htpasswd', pass: PASSWORD });
    await pushImage(reg, 'test/single', 'v1', single);
    await pushImage(reg, 'test/multi', 'v1', multi);
    dir = tempDir('auth-secrets');
    const pwFile = join(dir, 'upstream-password');
    writeFileSync(pwFile, `${PASSWORD}\n`); // the trailing newline an editor adds must not become part of it
    sw = await startSigward(
      {
        upstreams: [
          { host: 'env.test', url: reg.url, auth: { username: 'testuser', passwordEnv: 'SIGWARD_TEST_UPSTREAM_PW' } },
          { host: 'file.test', url: reg.url, auth: { username: 'testuser', passwordFile: pwFile } },
          { host: 'wrong.test', url: reg.url, auth: { username: 'testuser', passwordEnv: 'SIGWARD_TEST_WRONG_PW' } },
          { host: 'anon.test', url: reg.url },
        ],
        policy: ALLOW_ALL,
      },
      {},
      { ...process.env, SIGWARD_TEST_UPSTREAM_PW: PASSWORD, SIGWARD_TEST_WRONG_PW: WRONG },
    );
  });

  after(async () => {
    await sw?.stop();
    await reg?.stop();
    if (dir) removeTempDir(dir);
  });

  test('the password from passwordEnv pulls a whole multi-arch image', async () => {
    await pullAll(`${sw.url}/v2/env.test`, 'test/multi', 'v1', multi);
  });

  test('the password from passwordFile pulls a whole image', async () => {
    await pullAll(`${sw.url}/v2/file.test`, 'test/single', 'v1', single);
  });

  test('wrong credentials: 502 that names the upstream and the fix, without the password', async () => {
    // A manifest answer is read whole, so its message quotes the upstream; a blob's names the settings.
    const cases: [string, string][] = [
      [
        'test/single/manifests/v1',
        'it rejected the credentials sigward sent; check the credentials configured for upstream wrong.test',
      ],
      [
        `test/single/blobs/${[...single.blobs.keys()][0]}`,
        'upstream wrong.test rejected the configured Basic credentials; check its auth.username and password',
      ],
    ];
    for (const [path, why] of cases) {
      const r = await rawGet(`${sw.url}/v2/wrong.test/${path}`, { headers: ACCEPT });
      const err = upstreamError(r, 502);
      assert.equal(err.code, 'UNAVAILABLE');
      assert.ok(err.message.includes(why), `${JSON.stringify(why)} not in: ${err.message}`);
      assertNoSecret(r, WRONG, PASSWORD);
    }
  });

  test('no credentials for a private upstream: 502 telling the user to configure them', async () => {
    const r = await rawGet(`${sw.url}/v2/anon.test/test/single/manifests/v1`, { headers: ACCEPT });
    const err = upstreamError(r, 502);
    assert.match(err.message, /anon\.test requires credentials.*passwordFile or passwordEnv/);
    assertNoSecret(r, PASSWORD);
  });
});

describe('token (Bearer) upstream', () => {
  let reg: Registry;
  let sw: RunningSigward;

  // The issuer listens on another loopback port than the registry: it is listed as the registry's token service.
  let realm: string;

  before(async () => {
    reg = await startRegistry({ auth: 'token', pass: PASSWORD });
    await pushImage(reg, 'test/single', 'v1', single);
    await pushImage(reg, 'test/multi', 'v1', multi);
    realm = new URL(must(reg.tokenServer, 'reg.tokenServer').url).host;
    sw = await startSigward(
      {
        upstreams: [
          {
            host: 'token.test',
            url: reg.url,
            tokenRealms: [realm],
            auth: { username: 'testuser', passwordEnv: 'SIGWARD_TEST_UPSTREAM_PW' },
          },
          {
            host: 'badtoken.test',
            url: reg.url,
            tokenRealms: [realm],
            auth: { username: 'testuser', passwordEnv: 'SIGWARD_TEST_WRONG_PW' },
          },
          { host: 'anontoken.test', url: reg.url, tokenRealms: [realm] },
          // The same registry without its token service listed: neither the credentials nor an anonymous request go there.
          {
            host: 'unlisted.test',
            url: reg.url,
            auth: { username: 'testuser', passwordEnv: 'SIGWARD_TEST_UPSTREAM_PW' },
          },
          { host: 'anonunlisted.test', url: reg.url },
        ],
        policy: ALLOW_ALL,
      },
      {},
      { ...process.env, SIGWARD_TEST_UPSTREAM_PW: PASSWORD, SIGWARD_TEST_WRONG_PW: WRONG },
    );
  });

  after(async () => {
    await sw?.stop();
    await reg?.stop();
  });

  test('many pulls of one repository cost one token request; another repository one more', async () => {
    const issuer = must(reg.tokenServer, 'reg.tokenServer');
    issuer.reset();
    let requests = 0;
    for (let i = 0; i < 3; i++) requests += await pullAll(`${sw.url}/v2/token.test`, 'test/multi', 'v1', multi);
    assert.ok(requests >= 20, `${requests} requests through sigward`);
    assert.equal(issuer.count, 1, `token requests: ${JSON.stringify(issuer.requests)}`);
    assert.equal(issuer.requests[0]?.user, 'testuser', 'the token was asked for with the configured account');
    assert.deepEqual(issuer.requests[0]?.scopes, ['repository:test/multi:pull'], 'pull scope only');
    await pullAll(`${sw.url}/v2/token.test`, 'test/single', 'v1', single);
    await pullAll(`${sw.url}/v2/token.test`, 'test/single', 'v1', single);
    assert.equal(issuer.count, 2);
  });

  test('concurrent first pulls of a new repository share one token request', async () => {
    const issuer = must(reg.tokenServer, 'reg.tokenServer');
    // A fresh sigward: no token cached yet, and no scheme learnt.
    const fresh = await startSigward(
      {
        upstreams: [
          { host: 'token.test', url: reg.url, tokenRealms: [realm], auth: { username: 'testuser', passwordEnv: 'PW' } },
        ],
        policy: ALLOW_ALL,
      },
      {},
      { ...process.env, PW: PASSWORD },
    );
    try {
      // Learn the scheme with one request, then race eight on one scope.
      const warm = await rawGet(`${fresh.url}/v2/token.test/test/single/manifests/v1`, { headers: ACCEPT });
      assert.equal(warm.status, 200);
      issuer.reset();
      const all = await Promise.all(
        Array.from({ length: 8 }, () =>
          rawGet(`${fresh.url}/v2/token.test/test/multi/manifests/${multi.digest}`, { headers: ACCEPT }),
        ),
      );
      for (const r of all) assert.deepEqual(r.body, multi.bytes);
      assert.equal(issuer.count, 1);
    } finally {
      await fresh.stop();
    }
  });

  test('wrong credentials at the token service: 502 without the password', async () => {
    const r = await rawGet(`${sw.url}/v2/badtoken.test/test/single/manifests/v1`, { headers: ACCEPT });
    const err = upstreamError(r, 502);
    assert.match(err.message, /token service of upstream badtoken\.test.*rejected the configured credentials/);
    assertNoSecret(r, WRONG, PASSWORD);
  });

  test('no credentials where the token service grants no anonymous tokens: 502 asking for credentials', async () => {
    const r = await rawGet(`${sw.url}/v2/anontoken.test/test/single/manifests/v1`, { headers: ACCEPT });
    const err = upstreamError(r, 502);
    assert.match(err.message, /refused an anonymous token; configure credentials/);
  });

  test('a token realm on another host:port that is not listed gets nothing: 502 naming tokenRealms', async () => {
    const issuer = must(reg.tokenServer, 'reg.tokenServer');
    issuer.reset();
    const r = await rawGet(`${sw.url}/v2/unlisted.test/test/single/manifests/v1`, { headers: ACCEPT });
    const err = upstreamError(r, 502);
    assert.match(err.message, /not its own host/);
    assert.ok(err.message.includes(`add tokenRealms: [${realm}] to upstream unlisted.test`), err.message);
    assertNoSecret(r, PASSWORD);
    // Anonymously, a loopback realm that is not the upstream's own host is refused too.
    const anon = await rawGet(`${sw.url}/v2/anonunlisted.test/test/single/manifests/v1`, { headers: ACCEPT });
    assert.match(upstreamError(anon, 502).message, /loopback address.*tokenRealms/);
    assert.equal(issuer.count, 0, `the issuer was asked: ${JSON.stringify(issuer.requests)}`);
  });
});

describe('TLS upstream with its own CA', () => {
  let reg: Registry;
  let trusting: RunningSigward;
  let untrusting: RunningSigward;

  before(async () => {
    reg = await startRegistry({ tls: true });
    await pushImage(reg, 'test/single', 'v1', single);
    trusting = await startSigward({
      upstreams: [{ host: 'tls.test', url: reg.url, caFile: reg.caFile }],
      policy: ALLOW_ALL,
    });
    // Same registry, no caFile: the system trust store does not know the test CA.
    untrusting = await startSigward({ upstreams: [{ host: 'tls.test', url: reg.url }], policy: ALLOW_ALL });
  });

  after(async () => {
    await trusting?.stop();
    await untrusting?.stop();
    await reg?.stop();
  });

  test('with caFile the image is pulled byte-exact over https', async () => {
    await pullAll(`${trusting.url}/v2/tls.test`, 'test/single', 'v1', single);
    assert.ok(trusting.upstreamRequests.length > 0);
    assert.ok(
      trusting.upstreamRequests.every((r) => r.url.startsWith('https://127.0.0.1:')),
      'every upstream request used https',
    );
  });

  test('without caFile: an UNAVAILABLE error telling the user to set caFile', async () => {
    for (const path of ['test/single/manifests/v1', `test/single/blobs/${[...single.blobs.keys()][0]}`]) {
      const r = await rawGet(`${untrusting.url}/v2/tls.test/${path}`, { headers: ACCEPT });
      assert.equal(r.status, 503, `${path}: ${r.status} ${r.body.toString()}`);
      assert.match(r.reason, /upstream tls failure/);
      const err = ociErrorOf(r.body);
      assert.equal(err?.code, 'UNAVAILABLE');
      assert.match(err?.message ?? '', /TLS with upstream tls\.test failed/);
      assert.match(err?.message ?? '', /set caFile/);
    }
    assert.equal(untrusting.upstreamRequests.length, 0, 'no request got an answer over an untrusted connection');
  });
});
