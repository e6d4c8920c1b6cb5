// The auth state of an upstream against fakes: bearer challenge and token caching (counted at the token fake),
// expiry on an injected clock, single-flight, refused credentials, Basic challenges, and the challenge parser.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'undici';
import { MT } from '../../src/oci/mediatypes.ts';
import { parseChallenges } from '../../src/upstream/challenge.ts';
import { UpstreamClient } from '../../src/upstream/client.ts';
import { json, ociError, startFake, type Fake } from '../helpers/fake-upstream.ts';
import { LIMITS, recorder, rejection, upstreamConfig } from '../helpers/upstream-setup.ts';
import { waitFor } from '../helpers/proc.ts';

const PASSWORD = 'pa55-w0rd-never-shown';
const BASIC = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`;
const manifest = Buffer.from(`{"schemaVersion":2,"mediaType":"${MT.ociManifest}","config":{},"layers":[]}`);
const tag = { kind: 'tag' as const, tag: 'v1' };
const basicAuth = { kind: 'basic' as const, username: 'alice', password: { env: 'UNUSED' } };

describe('bearer token flow', () => {
  let tokens: Fake;
  let registry: Fake;
  let agent: Agent;
  let issued = 0;
  /** While set, token answers wait for it (a test holds them to make requests overlap). */
  let tokenHold: Promise<void> | undefined;
  let tokenBody: (n: number) => unknown = (n) => ({ token: `tok-${n}`, expires_in: 300 });

  before(async () => {
    tokens = await startFake(async (req, res) => {
      if (req.headers.authorization !== undefined && req.headers.authorization !== BASIC) {
        ociError(res, 401, 'UNAUTHORIZED', 'bad credentials');
        return;
      }
      if (tokenHold !== undefined) await tokenHold;
      json(res, 200, tokenBody(++issued));
    });
    registry = await startFake((req, res) => {
      const scope = `repository:${(req.url ?? '').split('/manifests/')[0]?.slice(4)}:pull`;
      const challenge = `Bearer realm="${tokens.url}/token",service="fake-registry",scope="${scope}"`;
      const auth = req.headers.authorization ?? '';
      // Only the newest token is accepted, so a stale cached token must be replaced; "private/*" rejects them all.
      if (
        !auth.startsWith('Bearer tok-') ||
        (req.url ?? '').startsWith('/v2/private/') ||
        Number(auth.slice(11)) !== issued
      ) {
        ociError(res, 401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': challenge });
        return;
      }
      res.writeHead(200, { 'content-type': MT.ociManifest });
      res.end(manifest);
    });
    agent = new Agent();
  });
  after(async () => {
    await agent.close();
    await tokens.close();
    await registry.close();
  });

  // The token fake is another origin on loopback: listed in tokenRealms, as an operator would list a registry's own
  // token service (boundary.ts; upstream-boundary.test.ts shows what happens without it).
  const client = (
    now: () => number,
    withPassword = true,
    onRequest?: (i: { method: string; url: string; status: number }) => void,
  ) =>
    new UpstreamClient(
      upstreamConfig(registry.url, { tokenRealms: [tokens.host], ...(withPassword ? { auth: basicAuth } : {}) }),
      {
        dispatcher: agent,
        limits: LIMITS,
        now,
        ...(withPassword ? { password: PASSWORD } : {}),
        ...(onRequest ? { onRequest } : {}),
      },
    );

  test('one token for many requests: challenge, token with service+scope+Basic, one retry', async () => {
    const start = tokens.requests.length;
    const rec = recorder();
    const c = client(() => 1_000_000, true, rec.hook);
    for (let i = 0; i < 5; i++) await c.getManifest('team/app', tag);
    const seen = tokens.requests.slice(start);
    assert.equal(seen.length, 1);
    const q = new URL(seen[0]?.url ?? '', tokens.url).searchParams;
    assert.equal(q.get('service'), 'fake-registry');
    assert.equal(q.get('scope'), 'repository:team/app:pull');
    assert.equal(seen[0]?.headers.authorization, BASIC);
    assert.equal(c.auth.tokenFetches, 1);
    // 401, token, retry, then four requests straight through with the cached token.
    assert.deepEqual(
      rec.seen.map((r) => r.status),
      [401, 200, 200, 200, 200, 200, 200],
    );
    assert.ok(rec.seen.every((r) => !r.url.includes(PASSWORD)));
  });

  test('a token is refetched after expires_in on the injected clock, and not before', async () => {
    let t = 5_000_000;
    const c = client(() => t);
    await c.getManifest('team/app', tag);
    assert.equal(c.auth.tokenFetches, 1);
    t += 280_000; // within 300 s minus the margin
    await c.getManifest('team/app', tag);
    assert.equal(c.auth.tokenFetches, 1);
    t += 20_000; // past it: fetched up front, no 401 round trip
    const before = registry.requests.length;
    await c.getManifest('team/app', tag);
    assert.equal(c.auth.tokenFetches, 2);
    assert.equal(registry.requests.length - before, 1);
  });

  test('without expires_in a token lives 60 s (docker token spec default), access_token accepted', async () => {
    tokenBody = (n) => ({ access_token: `tok-${n}` });
    try {
      let t = 9_000_000;
      const c = client(() => t);
      await c.getManifest('team/app', tag);
      t += 45_000;
      await c.getManifest('team/app', tag);
      assert.equal(c.auth.tokenFetches, 1);
      t += 20_000;
      await c.getManifest('team/app', tag);
      assert.equal(c.auth.tokenFetches, 2);
    } finally {
      tokenBody = (n) => ({ token: `tok-${n}`, expires_in: 300 });
    }
  });

  test('concurrent requests share one token fetch', async () => {
    let release!: () => void;
    tokenHold = new Promise<void>((resolve) => (release = resolve));
    try {
      const c = client(() => 1);
      const start = tokens.requests.length;
      const challenged = () =>
        registry.requests.filter((r) => r.url.startsWith('/v2/team/other/') && r.headers.authorization === undefined)
          .length;
      const challengedBefore = challenged();
      const pending = Promise.all(Array.from({ length: 12 }, () => c.getManifest('team/other', tag)));
      // The token answer is held until all twelve have been challenged: each then needs a token at the same time.
      await waitFor(async () => challenged() - challengedBefore === 12, 'twelve challenged requests');
      release();
      const all = await pending;
      assert.equal(all.length, 12);
      assert.equal(tokens.requests.length - start, 1);
      assert.equal(c.auth.tokenFetches, 1);
    } finally {
      release();
      tokenHold = undefined;
    }
  });

  test('a 401 after the retry -> UPSTREAM_UNAUTHORIZED naming the upstream, never the password', async () => {
    const e = await rejection(client(() => 1).getManifest('private/app', tag));
    assert.equal(e.code, 'UPSTREAM_UNAUTHORIZED');
    assert.ok(e.message.includes(registry.host));
    assert.match(e.message, /credentials/);
    assert.ok(!e.message.includes(PASSWORD) && !JSON.stringify(e).includes(PASSWORD));
  });

  test('wrong credentials at the token service -> UPSTREAM_UNAUTHORIZED without the password', async () => {
    const c = new UpstreamClient(upstreamConfig(registry.url, { auth: basicAuth, tokenRealms: [tokens.host] }), {
      dispatcher: agent,
      limits: LIMITS,
      password: 'wrong',
    });
    const e = await rejection(c.getManifest('team/app', tag));
    assert.equal(e.code, 'UPSTREAM_UNAUTHORIZED');
    assert.match(e.message, /token service/);
    assert.ok(!e.message.includes('wrong') && !e.message.includes(PASSWORD));
  });

  test('anonymous: the token request carries no Authorization', async () => {
    const start = tokens.requests.length;
    await client(() => 1, false).getManifest('team/anon', tag);
    assert.equal(tokens.requests[start]?.headers.authorization, undefined);
  });
});

describe('Basic challenges and bad realms', () => {
  let registry: Fake;
  let agent: Agent;
  before(async () => {
    registry = await startFake((req, res) => {
      if ((req.url ?? '').startsWith('/v2/ftp/')) {
        res.writeHead(401, { 'www-authenticate': 'Bearer realm="ftp://127.0.0.1/token",service="x"' });
        res.end();
      } else if ((req.url ?? '').startsWith('/v2/odd/')) {
        res.writeHead(401, { 'www-authenticate': 'Negotiate' });
        res.end();
      } else if (req.headers.authorization !== BASIC) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="test-realm"' });
        res.end();
      } else {
        res.writeHead(200, { 'content-type': MT.ociManifest });
        res.end(manifest);
      }
    });
    agent = new Agent();
  });
  after(async () => {
    await agent.close();
    await registry.close();
  });

  test('credentials follow the first Basic challenge, then go up front', async () => {
    const c = new UpstreamClient(upstreamConfig(registry.url, { auth: basicAuth }), {
      dispatcher: agent,
      limits: LIMITS,
      password: PASSWORD,
    });
    const start = registry.requests.length;
    await c.getManifest('a/b', tag);
    await c.getManifest('a/b', tag);
    await c.getManifest('c/d', tag);
    assert.deepEqual(
      registry.requests.slice(start).map((r) => r.headers.authorization),
      [undefined, BASIC, BASIC, BASIC],
    );
  });

  test('Basic without configured credentials, or with wrong ones -> UPSTREAM_UNAUTHORIZED', async () => {
    const anon = new UpstreamClient(upstreamConfig(registry.url), { dispatcher: agent, limits: LIMITS });
    const e = await rejection(anon.getManifest('a/b', tag));
    assert.equal(e.code, 'UPSTREAM_UNAUTHORIZED');
    assert.match(e.message, /none are configured/);
    const wrong = new UpstreamClient(upstreamConfig(registry.url, { auth: basicAuth }), {
      dispatcher: agent,
      limits: LIMITS,
      password: 'nope',
    });
    const w = await rejection(wrong.getManifest('a/b', tag));
    assert.equal(w.code, 'UPSTREAM_UNAUTHORIZED');
    assert.ok(!w.message.includes('nope'));
  });

  test('a non-http realm is refused; an unknown scheme is UPSTREAM_UNAUTHORIZED', async () => {
    const c = new UpstreamClient(upstreamConfig(registry.url), { dispatcher: agent, limits: LIMITS });
    assert.equal((await rejection(c.getManifest('ftp/x', tag))).code, 'UPSTREAM_INVALID');
    const e = await rejection(c.getManifest('odd/x', tag));
    assert.equal(e.code, 'UPSTREAM_UNAUTHORIZED');
    assert.match(e.message, /negotiate/);
  });
});

describe('WWW-Authenticate parsing', () => {
  test('quoted values with commas, several challenges, escapes, case', () => {
    assert.deepEqual(parseChallenges('Bearer realm="https://a/token",service="reg",scope="repository:x/y:pull,push"'), [
      { scheme: 'bearer', params: { realm: 'https://a/token', service: 'reg', scope: 'repository:x/y:pull,push' } },
    ]);
    assert.deepEqual(parseChallenges('Basic realm="r", BEARER Realm=https://t, error="insufficient_scope"'), [
      { scheme: 'basic', params: { realm: 'r' } },
      { scheme: 'bearer', params: { realm: 'https://t', error: 'insufficient_scope' } },
    ]);
    assert.deepEqual(parseChallenges(['Basic realm="a \\"b\\""']), [{ scheme: 'basic', params: { realm: 'a "b"' } }]);
    assert.deepEqual(parseChallenges(undefined), []);
    assert.deepEqual(parseChallenges(''), []);
  });
});
