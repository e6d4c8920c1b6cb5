// Where an upstream's redirects and token realms may lead, against fakes on 127.0.0.1: a "foreign" listener on another
// loopback port stands for whatever an upstream points at, and counts every request and connection it gets, so the
// tests prove nothing reached it. Made-up host names (*.example.test) are mapped to 127.0.0.1 by the dispatcher's
// lookup, and an injected address classifier lets a loopback listener stand in for a public CDN; no traffic leaves
// 127.0.0.1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lookup as dnsLookup } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { buffer } from 'node:stream/consumers';
import { Agent } from 'undici';
import type { UpstreamConfig } from '../../src/config/types.ts';
import { digestOf } from '../../src/oci/digest.ts';
import { MT } from '../../src/oci/mediatypes.ts';
import { nonPublicReason } from '../../src/upstream/addresses.ts';
import { UpstreamClient } from '../../src/upstream/client.ts';
import type { DispatcherOptions } from '../../src/upstream/dispatcher.ts';
import { Upstreams } from '../../src/upstream/registry.ts';
import { json, startFake, type Fake } from '../helpers/fake-upstream.ts';
import { LIMITS, rejection, upstreamConfig } from '../helpers/upstream-setup.ts';

const blob = Buffer.from('a layer that a CDN would serve '.repeat(100));
const digest = digestOf(blob);
const tagList = { name: 'r', tags: ['secret-internal-tag'] };
const PASSWORD = 'pw-boundary-3c9e1f';
const BASIC = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`;
const basicAuth = { kind: 'basic' as const, username: 'alice', password: { env: 'UNUSED' } };
const manifest = Buffer.from(`{"schemaVersion":2,"mediaType":"${MT.ociManifest}","config":{},"layers":[]}`);

/** Made-up names under example.test resolve to 127.0.0.1; anything else as usual (nothing else is asked here). */
const fakeDns: LookupFunction = (hostname, options, callback) => {
  if (!hostname.endsWith('.example.test')) {
    dnsLookup(hostname, options, callback);
    return;
  }
  if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
};
/** A classifier for which 127.0.0.1 is public: the foreign listener then stands for a CDN on the internet. */
const loopbackIsPublic = (a: string): string | undefined => (a === '127.0.0.1' ? undefined : nonPublicReason(a));

/**
 * Clients of one fake registry: `plain` on an injected Agent (the request-level checks only), `guarded` on sigward's
 * own Agents with the fake lookup (the connect-time checks too). close() ends all of them.
 */
function clientsOf(registry: () => Fake) {
  const agent = new Agent();
  const owned: Upstreams[] = [];
  const pw = (password?: string) => (password === undefined ? {} : { password });
  return {
    plain: (over: Partial<UpstreamConfig> = {}, password?: string): UpstreamClient =>
      new UpstreamClient(upstreamConfig(registry().url, over), { dispatcher: agent, limits: LIMITS, ...pw(password) }),
    guarded: (over: Partial<UpstreamConfig>, opts: DispatcherOptions, password?: string): UpstreamClient => {
      const cfg = upstreamConfig(registry().url, over);
      const ups = new Upstreams([cfg], {
        limits: LIMITS,
        passwords: new Map(password === undefined ? [] : [[cfg.host, password]]),
        caPems: new Map(),
        dispatcherOptions: { lookup: fakeDns, ...opts },
      });
      owned.push(ups);
      return ups.get(cfg.host);
    },
    close: async (): Promise<void> => {
      await Promise.all(owned.map((u) => u.close()));
      await agent.close();
    },
  };
}

/** `fn` fails with UPSTREAM_INVALID, without the password, and `listener` got neither a connection nor a request. */
async function refusedUnseen(
  listener: Fake,
  what: string,
  fn: () => Promise<unknown>,
): Promise<Error & { code?: string }> {
  const [requests, connections] = [listener.requests.length, listener.connections];
  const e = await rejection(fn());
  assert.equal(listener.requests.length, requests, `${what}: the listener got a request`);
  assert.equal(listener.connections, connections, `${what}: the listener got a connection`);
  assert.equal(e.code, 'UPSTREAM_INVALID', `${what}: ${e.message}`);
  assert.ok(!e.message.includes(PASSWORD) && !JSON.stringify(e).includes(PASSWORD));
  return e;
}

describe('redirects', () => {
  let foreign: Fake; // what the upstream points at
  let registry: Fake;
  const { plain, guarded, close } = clientsOf(() => registry);
  const untouched = (what: string, fn: () => Promise<unknown>) => refusedUnseen(foreign, what, fn);
  const byName = (path: string): string => `http://cdn.example.test:${new URL(foreign.url).port}${path}`;

  before(async () => {
    foreign = await startFake((req, res) => {
      if ((req.url ?? '').includes('/tags/')) json(res, 200, tagList);
      else if ((req.url ?? '').includes('/referrers/')) json(res, 200, { schemaVersion: 2, manifests: [] });
      else {
        res.writeHead(200, { 'content-length': String(blob.length) });
        res.end(blob);
      }
    });
    registry = await startFake((req, res) => {
      const url = req.url ?? '';
      const [, repo = ''] = /^\/v2\/([^/]+)\//.exec(url) ?? [];
      if (url.startsWith('/same/')) {
        if (url.includes('/tags/')) json(res, 200, { name: 'same', tags: ['a'] });
        else res.end(blob);
        return;
      }
      // /v2/<how>/…: where the redirect goes.
      const rest = url.slice(`/v2/${repo}`.length);
      const to = repo === 'same' ? `/same${rest}` : repo === 'lit' ? `${foreign.url}${rest}` : byName(rest);
      res.writeHead(302, { location: to });
      res.end();
    });
  });
  after(async () => {
    await close();
    await foreign.close();
    await registry.close();
  });

  test('a tag list, referrers and a Range answer are never fetched from another origin, even a "public" one', async () => {
    for (const c of [plain(), plain({ allowPrivateNetworks: true }), guarded({}, { classify: loopbackIsPublic })]) {
      for (const how of ['lit', 'name']) {
        const tags = await untouched(`tags ${how}`, () => c.getTags(how));
        assert.match(tags.message, /never for tag lists/);
        await untouched(`referrers ${how}`, () => c.getReferrers(how, digest));
        const range = await untouched(`range ${how}`, () => c.getBlob(how, digest, { range: 'bytes=0-9' }));
        assert.match(range.message, /Range request/);
      }
    }
  });

  test('a blob redirect to a loopback literal is refused before any request', async () => {
    const e = await untouched('blob lit', () => plain().getBlob('lit', digest));
    assert.match(e.message, /a loopback address.*set allowPrivateNetworks: true for upstream 127\.0\.0\.1:\d+/);
    await untouched('blob lit, guarded', () => guarded({}, {}).getBlob('lit', digest));
  });

  test('a blob redirect to a name that resolves to loopback is refused at connect time', async () => {
    const e = await untouched('blob name', () => guarded({}, {}).getBlob('name', digest));
    assert.match(e.message, /cdn\.example\.test resolves to 127\.0\.0\.1, a loopback address/);
    assert.match(e.message, /allowPrivateNetworks: true/);
    // Manifests and signature blobs are read whole (buffered): the same refusal.
    await untouched('manifest name', () => guarded({}, {}).getManifest('name', { kind: 'digest', digest }));
    await untouched('small blob name', () => guarded({}, {}).readBlob('name', digest, 1024));
  });

  test('a blob redirect to another, public origin is followed (a CDN)', async () => {
    const c = guarded({}, { classify: loopbackIsPublic });
    const before = foreign.requests.length;
    const b = await c.getBlob('name', digest);
    assert.deepEqual(await buffer(b.body), blob);
    const seen = foreign.requests.slice(before);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.headers.host, `cdn.example.test:${new URL(foreign.url).port}`);
  });

  test('allowPrivateNetworks: blob redirects into loopback are followed, by literal and by name', async () => {
    for (const [c, hows] of [
      [plain({ allowPrivateNetworks: true }), ['lit']],
      [guarded({ allowPrivateNetworks: true }, {}), ['lit', 'name']],
    ] as const) {
      for (const how of hows) {
        const before = foreign.requests.length;
        const b = await c.getBlob(how, digest);
        assert.deepEqual(await buffer(b.body), blob, how);
        assert.equal(foreign.requests.length, before + 1, how);
      }
    }
  });

  test('same-origin redirects are followed for every kind', async () => {
    for (const c of [plain(), guarded({}, {})]) {
      const t = await c.getTags('same');
      assert.deepEqual(JSON.parse(Buffer.from(t.bytes).toString()), { name: 'same', tags: ['a'] });
      assert.deepEqual(await buffer((await c.getBlob('same', digest)).body), blob);
    }
  });
});

describe('token realms', () => {
  let tokens: Fake; // a token service on another loopback port
  let registry: Fake;
  const { plain, guarded, close } = clientsOf(() => registry);
  const untouched = (what: string, fn: () => Promise<unknown>) => refusedUnseen(tokens, what, fn);

  before(async () => {
    tokens = await startFake((_req, res) => json(res, 200, { token: 'tok-1', expires_in: 300 }));
    registry = await startFake((req, res) => {
      const url = req.url ?? '';
      if (url.startsWith('/token')) {
        json(res, 200, { token: 'tok-1', expires_in: 300 });
        return;
      }
      if (req.headers.authorization === 'Bearer tok-1') {
        res.writeHead(200, { 'content-type': MT.ociManifest });
        res.end(manifest);
        return;
      }
      const repo = /^\/v2\/([^/]+)\//.exec(url)?.[1] ?? '';
      const realm =
        repo === 'own'
          ? `${registry.url}/token`
          : repo === 'lit'
            ? `${tokens.url}/token`
            : `http://auth.example.test:${new URL(tokens.url).port}/token`;
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="${realm}",service="fake",scope="repository:${repo}/x:pull"`,
      });
      res.end();
    });
  });
  after(async () => {
    await close();
    await tokens.close();
    await registry.close();
  });

  const tag = { kind: 'tag' as const, tag: 'v1' };

  test('the credentials never reach a realm on another port or host that is not listed', async () => {
    const lit = await untouched('lit', () => plain({ auth: basicAuth }, PASSWORD).getManifest('lit', tag));
    assert.ok(lit.message.includes(`add tokenRealms: [${tokens.host}] to upstream ${registry.host}`), lit.message);
    // A public-looking name is no better: the credentials go only where the operator said.
    const named = await untouched('name', () =>
      guarded({ auth: basicAuth }, { classify: loopbackIsPublic }, PASSWORD).getManifest('name', tag),
    );
    assert.match(named.message, /add tokenRealms: \[auth\.example\.test:\d+\]/);
  });

  test("a listed realm, and a realm on the upstream's own origin, get the credentials", async () => {
    const before = tokens.requests.length;
    await plain({ auth: basicAuth, tokenRealms: [tokens.host] }, PASSWORD).getManifest('lit', tag);
    assert.equal(tokens.requests.length, before + 1);
    assert.equal(tokens.requests.at(-1)?.headers.authorization, BASIC);
    await guarded(
      { auth: basicAuth, tokenRealms: [`auth.example.test:${new URL(tokens.url).port}`] },
      {},
      PASSWORD,
    ).getManifest('name', tag);
    assert.equal(
      tokens.requests.at(-1)?.headers.authorization,
      BASIC,
      'a listed name may resolve to a private address: the operator named it',
    );
    const own = registry.requests.length;
    await plain({ auth: basicAuth }, PASSWORD).getManifest('own', tag);
    const token = registry.requests.slice(own).find((r) => r.url.startsWith('/token'));
    assert.equal(token?.headers.authorization, BASIC);
  });

  test('anonymous: a loopback realm is refused (literal before any request, name at connect time)', async () => {
    const lit = await untouched('anon lit', () => plain({}).getManifest('lit', tag));
    assert.match(lit.message, /a loopback address that is not its own host/);
    const named = await untouched('anon name', () => guarded({}, {}).getManifest('name', tag));
    assert.match(
      named.message,
      /auth\.example\.test resolves to 127\.0\.0\.1, a loopback address.*add tokenRealms: \[auth\.example\.test:\d+\] \(or allowPrivateNetworks: true\)/,
    );
  });

  test('anonymous: a public realm elsewhere, or any realm with allowPrivateNetworks, is asked without credentials', async () => {
    for (const [c, repo] of [
      [guarded({}, { classify: loopbackIsPublic }), 'name'],
      [plain({ allowPrivateNetworks: true }), 'lit'],
      [guarded({ allowPrivateNetworks: true }, {}), 'name'],
    ] as const) {
      const before = tokens.requests.length;
      assert.deepEqual(Buffer.from((await c.getManifest(repo, tag)).bytes), manifest);
      assert.equal(tokens.requests.length, before + 1);
      assert.equal(tokens.requests.at(-1)?.headers.authorization, undefined);
    }
  });
});
