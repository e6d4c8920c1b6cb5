// Transport faults and status mapping: slow headers, resets with retries, refused connections, 429/5xx/403,
// capped error bodies, caller aborts. Each fake counts what reached it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'undici';
import { digestOf } from '../../src/oci/digest.ts';
import { MT } from '../../src/oci/mediatypes.ts';
import { UpstreamClient } from '../../src/upstream/client.ts';
import { parseRetryAfter, upstreamStatusError } from '../../src/upstream/status.ts';
import { ociError, startFake, type Fake } from '../helpers/fake-upstream.ts';
import { LIMITS, rejection, upstreamConfig } from '../helpers/upstream-setup.ts';
import { waitFor } from '../helpers/proc.ts';

const manifest = Buffer.from(`{"schemaVersion":2,"mediaType":"${MT.ociManifest}","config":{},"layers":[]}`);
const tag = (t: string) => ({ kind: 'tag' as const, tag: t });

describe('upstream faults', () => {
  let fake: Fake;
  let agent: Agent;
  const perPath = new Map<string, number>();
  const now = () => Date.parse('2030-01-01T00:00:00Z');

  before(async () => {
    fake = await startFake((req, res) => {
      const path = (req.url ?? '').replace(/^\/v2\/[^/]+\/[^/]+\/manifests\//, '');
      const count = (perPath.get(path) ?? 0) + 1;
      perPath.set(path, count);
      const ok = (): void => {
        res.writeHead(200, { 'content-type': MT.ociManifest, 'content-length': String(manifest.length) });
        res.end(manifest);
      };
      if (path === 'slow')
        return; // headers never come; closing the fake ends the exchange
      else if (path === 'reset-once') {
        if (count === 1) req.socket.destroy();
        else ok();
      } else if (path === 'reset-always') req.socket.destroy();
      else if (path === 'limited') ociError(res, 429, 'TOOMANYREQUESTS', 'slow down', { 'retry-after': '7' });
      else if (path === 'limited-date')
        ociError(res, 429, 'TOOMANYREQUESTS', 'slow down', { 'retry-after': 'Tue, 01 Jan 2030 00:01:30 GMT' });
      else if (path === 'broken') ociError(res, 500, 'UNKNOWN', 'disk on fire\u0007');
      else if (path === 'chatty') {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('x'.repeat(100_000));
      } else if (path === 'forbidden') ociError(res, 403, 'DENIED', 'requested access to the resource is denied');
      else if (path === 'teapot') ociError(res, 418, 'UNKNOWN', 'short and stout');
      else ok();
    });
    agent = new Agent();
  });
  after(async () => {
    await agent.close();
    await fake.close();
  });

  const client = (over: Parameters<typeof upstreamConfig>[1] = {}) =>
    new UpstreamClient(upstreamConfig(fake.url, over), { dispatcher: agent, limits: LIMITS, now });

  test('slow headers -> UPSTREAM_TIMEOUT naming the setting to raise', async () => {
    const c = client({ timeouts: { connectMs: 1_000, headersMs: 150, bodyMs: 1_000 }, retries: 2 });
    const e = await rejection(c.getManifest('a/b', tag('slow')));
    assert.equal(e.code, 'UPSTREAM_TIMEOUT');
    assert.match(e.message, /timeouts\.headers/);
    assert.equal(perPath.get('slow'), 1, 'a timeout is not retried');
  });

  test('connection reset before headers is retried, and the retry is counted', async () => {
    const m = await client({ retries: 2 }).getManifest('a/b', tag('reset-once'));
    assert.equal(m.digest, digestOf(manifest));
    assert.equal(perPath.get('reset-once'), 2);
  });

  test('retries are bounded by cfg.retries; 0 means one attempt', async () => {
    const e = await rejection(client({ retries: 2 }).getManifest('a/b', tag('reset-always')));
    assert.equal(e.code, 'UPSTREAM_UNAVAILABLE');
    assert.equal(perPath.get('reset-always'), 3);
    perPath.delete('reset-once');
    assert.equal(
      (await rejection(client({ retries: 0 }).getManifest('a/b', tag('reset-once')))).code,
      'UPSTREAM_UNAVAILABLE',
    );
    assert.equal(perPath.get('reset-once'), 1);
  });

  test('connection refused -> UPSTREAM_UNAVAILABLE naming the upstream', async () => {
    const closed = await startFake(() => {});
    const url = closed.url;
    await closed.close();
    const c = new UpstreamClient(upstreamConfig(url, { retries: 1 }), { dispatcher: agent, limits: LIMITS });
    const e = await rejection(c.getManifest('a/b', tag('x')));
    assert.equal(e.code, 'UPSTREAM_UNAVAILABLE');
    assert.ok(e.message.includes(new URL(url).host));
    assert.match(e.message, /ECONNREFUSED/);
  });

  test('429 -> UPSTREAM_RATE_LIMITED with Retry-After in seconds or as an HTTP date', async () => {
    const e = await rejection(client().getManifest('a/b', tag('limited')));
    assert.equal(e.code, 'UPSTREAM_RATE_LIMITED');
    assert.equal(e.retryAfter, 7);
    const d = await rejection(client().getManifest('a/b', tag('limited-date')));
    assert.equal(d.retryAfter, 90);
    assert.equal(perPath.get('limited'), 1, 'HTTP errors are not retried');
  });

  test('5xx -> UPSTREAM_UNAVAILABLE quoting the upstream message, printable and clipped', async () => {
    const e = await rejection(client().getManifest('a/b', tag('broken')));
    assert.equal(e.code, 'UPSTREAM_UNAVAILABLE');
    assert.match(e.message, /disk on fire\?/);
    const chatty = await rejection(client().getManifest('a/b', tag('chatty')));
    assert.equal(chatty.code, 'UPSTREAM_UNAVAILABLE');
    assert.ok(chatty.message.length < 600, 'the error body is read capped and quoted clipped');
  });

  test('403 -> UPSTREAM_DENIED; an unexpected status -> UPSTREAM_INVALID', async () => {
    assert.equal((await rejection(client().getManifest('a/b', tag('forbidden')))).code, 'UPSTREAM_DENIED');
    const e = await rejection(client().getManifest('a/b', tag('teapot')));
    assert.equal(e.code, 'UPSTREAM_INVALID');
    assert.match(e.message, /418/);
  });

  test('a caller abort rejects with the abort reason and is not retried', async () => {
    const before = perPath.get('slow') ?? 0;
    const ac = new AbortController();
    const p = client().getManifest('a/b', tag('slow'), { signal: ac.signal });
    await waitFor(async () => perPath.get('slow') === before + 1, 'the request at the upstream');
    ac.abort(new Error('client went away'));
    const e = await rejection(p);
    assert.equal(e.message, 'client went away');
    assert.equal(perPath.get('slow'), before + 1);
  });
});

describe('status helpers', () => {
  const ctx = {
    upstream: 'r.example',
    method: 'GET',
    url: 'https://r.example/v2/a/blobs/x',
    kind: 'blob' as const,
    authenticated: false,
    now: () => 0,
  };
  test('parseRetryAfter: seconds, dates, garbage', () => {
    assert.equal(
      parseRetryAfter('12', () => 0),
      12,
    );
    assert.equal(
      parseRetryAfter('Thu, 01 Jan 1970 00:00:30 GMT', () => 0),
      30,
    );
    assert.equal(
      parseRetryAfter('Thu, 01 Jan 1970 00:00:30 GMT', () => 60_000),
      0,
    );
    assert.equal(
      parseRetryAfter('soon', () => 0),
      undefined,
    );
    assert.equal(
      parseRetryAfter(undefined, () => 0),
      undefined,
    );
  });
  test('404 without a body maps by kind; 401 names the fix; 416 is RANGE_INVALID', () => {
    assert.equal(upstreamStatusError(404, {}, undefined, ctx).code, 'BLOB_UNKNOWN');
    assert.equal(upstreamStatusError(404, {}, undefined, { ...ctx, kind: 'tags' }).code, 'NAME_UNKNOWN');
    const body = new TextEncoder().encode('{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}');
    assert.equal(upstreamStatusError(404, {}, body, { ...ctx, kind: 'manifest' }).code, 'BLOB_UNKNOWN');
    const anon = upstreamStatusError(401, {}, undefined, ctx);
    assert.equal(anon.code, 'UPSTREAM_UNAUTHORIZED');
    assert.match(anon.message, /configure credentials/);
    const authd = upstreamStatusError(
      401,
      { 'www-authenticate': 'Bearer realm="x",error="insufficient_scope"' },
      undefined,
      { ...ctx, authenticated: true },
    );
    assert.match(authd.message, /insufficient_scope/);
    assert.match(authd.message, /check the credentials/);
    assert.equal(upstreamStatusError(416, {}, undefined, ctx).code, 'RANGE_INVALID');
  });
});
