// Blobs (streaming, Range, redirects and where credentials go) and the capped list endpoints (tags, referrers).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buffer } from 'node:stream/consumers';
import { Agent } from 'undici';
import { digestOf } from '../../src/oci/digest.ts';
import { UpstreamClient } from '../../src/upstream/client.ts';
import { json, ociError, startFake, type Fake } from '../helpers/fake-upstream.ts';
import { LIMITS, rejection, upstreamConfig } from '../helpers/upstream-setup.ts';
import type { ServerResponse } from 'node:http';

const blob = Buffer.from('layer bytes '.repeat(1000));
const digest = digestOf(blob);
const BASIC = `Basic ${Buffer.from('user:secret-pass').toString('base64')}`;

describe('UpstreamClient blobs and lists', () => {
  let storage: Fake; // another origin, like S3 behind a registry's redirect
  let registry: Fake;
  let agent: Agent;
  let client: UpstreamClient;

  const serveBlob = (range: string | undefined, res: ServerResponse): void => {
    const m = range === undefined ? null : /^bytes=(\d+)-(\d+)$/.exec(range);
    if (m) {
      const [start, end] = [Number(m[1]), Number(m[2])];
      if (end >= blob.length) {
        res.writeHead(416, { 'content-range': `bytes */${blob.length}` });
        res.end();
        return;
      }
      res.writeHead(206, {
        'content-range': `bytes ${start}-${end}/${blob.length}`,
        'content-length': String(end - start + 1),
      });
      res.end(blob.subarray(start, end + 1));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) });
    res.end(blob);
  };

  before(async () => {
    storage = await startFake((req, res) => serveBlob(req.headers.range, res));
    registry = await startFake((req, res) => {
      const url = req.url ?? '';
      // Basic auth everywhere on the registry, as htpasswd distribution does.
      if (req.headers.authorization !== BASIC) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' });
        res.end();
        return;
      }
      if (url.startsWith('/v2/away/')) {
        res.writeHead(307, { location: `${storage.url}/bucket/${digest}?X-Signature=s3cr3t` });
        res.end();
      } else if (url.startsWith('/v2/here/')) {
        res.writeHead(302, { location: `/storage/${digest}` });
        res.end();
      } else if (url.startsWith('/storage/')) serveBlob(req.headers.range, res);
      else if (url.startsWith('/v2/loop/')) {
        res.writeHead(302, { location: url });
        res.end();
      } else if (url === `/v2/plain/blobs/${digest}`) serveBlob(req.headers.range, res);
      else if (url.startsWith('/v2/plain/tags/list'))
        json(res, 200, { name: 'plain', tags: ['a', 'b'] }, { link: '</v2/plain/tags/list?n=2&last=b>; rel="next"' });
      else if (url.startsWith('/v2/huge/tags/list'))
        json(res, 200, { name: 'huge', tags: Array.from({ length: 2000 }, (_, i) => `t${i}`) });
      else if (url.startsWith('/v2/plain/referrers/'))
        json(
          res,
          200,
          { schemaVersion: 2, manifests: [] },
          { 'content-type': 'application/vnd.oci.image.index.v1+json' },
        );
      else if (url.startsWith('/v2/old/referrers/')) ociError(res, 404, 'NAME_UNKNOWN', 'not here');
      else if (url.startsWith('/v2/sick/')) ociError(res, 502, 'UNAVAILABLE', 'upstream of upstream down');
      else ociError(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
    });
    agent = new Agent();
    // The storage fake stands for a CDN but listens on loopback, so this upstream is allowed into private networks.
    client = new UpstreamClient(
      upstreamConfig(registry.url, {
        auth: { kind: 'basic', username: 'user', password: { env: 'X' } },
        allowPrivateNetworks: true,
      }),
      {
        dispatcher: agent,
        limits: LIMITS,
        password: 'secret-pass',
      },
    );
  });
  after(async () => {
    await agent.close();
    await storage.close();
    await registry.close();
  });

  test('a blob streams back whole with its size; a Range is passed through as 206', async () => {
    const b = await client.getBlob('plain', digest);
    assert.equal(b.status, 200);
    assert.equal(b.size, blob.length);
    assert.equal(b.headers['content-type'], 'application/octet-stream');
    assert.deepEqual(await buffer(b.body), blob);
    const r = await client.getBlob('plain', digest, { range: 'bytes=10-19' });
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], `bytes 10-19/${blob.length}`);
    assert.deepEqual(await buffer(r.body), blob.subarray(10, 20));
    assert.equal(registry.requests.at(-1)?.headers.range, 'bytes=10-19');
  });

  test('an unsatisfiable range is RANGE_INVALID; a missing blob BLOB_UNKNOWN', async () => {
    assert.equal((await rejection(client.getBlob('plain', digest, { range: 'bytes=0-999999' }))).code, 'RANGE_INVALID');
    assert.equal((await rejection(client.getBlob('missing', digest))).code, 'BLOB_UNKNOWN');
  });

  test('a redirect to another origin drops Authorization (counted at the storage fake)', async () => {
    const before = storage.requests.length;
    const b = await client.getBlob('away', digest);
    assert.deepEqual(await buffer(b.body), blob);
    const seen = storage.requests.slice(before);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.headers.authorization, undefined);
    assert.equal(seen[0]?.url, `/bucket/${digest}?X-Signature=s3cr3t`);
  });

  test('a redirect within the same origin keeps Authorization', async () => {
    const b = await client.getBlob('here', digest, { range: 'bytes=0-3' });
    assert.equal(b.status, 206);
    assert.deepEqual(await buffer(b.body), blob.subarray(0, 4));
    const last = registry.requests.at(-1);
    assert.equal(last?.url, `/storage/${digest}`);
    assert.equal(last?.headers.authorization, BASIC);
    assert.equal(last?.headers.range, 'bytes=0-3');
  });

  test('more than 5 redirects -> UPSTREAM_INVALID', async () => {
    const before = registry.requests.length;
    const e = await rejection(client.getBlob('loop', digest));
    assert.equal(e.code, 'UPSTREAM_INVALID');
    assert.equal(registry.requests.length - before, 6);
  });

  test('headBlob gives the size', async () => {
    const h = await client.headBlob('plain', digest);
    assert.equal(h.size, blob.length);
    assert.equal(registry.requests.at(-1)?.method, 'HEAD');
  });

  test('tags: query and Link passed through; an oversize list is UPSTREAM_TOO_LARGE', async () => {
    const t = await client.getTags('plain', { n: '2', last: 'a' });
    assert.equal(t.status, 200);
    assert.deepEqual(JSON.parse(Buffer.from(t.bytes).toString()), { name: 'plain', tags: ['a', 'b'] });
    assert.equal(t.link, '</v2/plain/tags/list?n=2&last=b>; rel="next"');
    assert.equal(registry.requests.at(-1)?.url, '/v2/plain/tags/list?n=2&last=a');
    const e = await rejection(client.getTags('huge'));
    assert.equal(e.code, 'UPSTREAM_TOO_LARGE');
    assert.match(e.message, /limits\.listBytes/);
  });

  test('referrers: 200 passed through, 404 returned (not thrown), 5xx mapped', async () => {
    const r = await client.getReferrers('plain', digest, 'application/vnd.dev.sigstore.bundle.v0.3+json');
    assert.equal(r.status, 200);
    assert.equal(r.contentType, 'application/vnd.oci.image.index.v1+json');
    assert.equal(
      registry.requests.at(-1)?.url,
      `/v2/plain/referrers/${digest}?artifactType=application%2Fvnd.dev.sigstore.bundle.v0.3%2Bjson`,
    );
    const none = await client.getReferrers('old', digest);
    assert.equal(none.status, 404);
    assert.equal(none.bytes.length, 0);
    assert.equal((await rejection(client.getReferrers('sick', digest))).code, 'UPSTREAM_UNAVAILABLE');
  });
});
