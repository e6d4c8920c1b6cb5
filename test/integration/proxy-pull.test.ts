// sigward in front of a REAL distribution registry: byte-exact pulls by tag and digest through all three request
// shapes, HEAD, blobs with Range, tags/list, and everything that must never reach the upstream.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { request } from 'undici';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { buildImage, buildMultiArch, pushImage, type TestImage } from '../helpers/images.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { listenOnLoopback } from '../helpers/proc.ts';

const ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

async function get(url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') {
  const r = await request(url, { method, headers });
  const body = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, headers: r.headers as Record<string, string>, body };
}

describe('proxy core against distribution (anonymous upstream)', () => {
  let reg: Registry;
  let sw: RunningSigward;
  let single: TestImage;
  let multi: TestImage;
  let closedPort: Server;
  let closedConnections = 0;

  before(async () => {
    reg = await startRegistry();
    single = buildImage({ files: { 'hello.txt': 'hello from single\n' } });
    multi = buildMultiArch();
    await pushImage(reg, 'test/single', 'v1', single);
    await pushImage(reg, 'test/multi', 'v1', multi);
    // A listener standing in for a registry sigward must NOT contact: it counts connections.
    closedPort = createServer((s) => {
      closedConnections++;
      s.destroy();
    });
    await listenOnLoopback(closedPort);
    sw = await startSigward({
      upstreams: [
        { host: 'example.test', url: reg.url, default: true },
        { host: reg.host, url: reg.url },
      ],
      // This file tests the proxy core; the signature gate has its own tests. Explicitly allow everything.
      policy: { default: 'allow' },
    });
  });

  after(async () => {
    await sw?.stop();
    await reg?.stop();
    await new Promise<void>((r) => closedPort?.close(() => r()));
  });

  test('ping answers with the API version header', async () => {
    const r = await get(`${sw.url}/v2/`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.equal(r.body.toString(), '{}');
  });

  test('manifest by tag and by digest, byte-exact, through every request shape', async () => {
    const shapes = [
      `${sw.url}/v2/example.test/test/single/manifests/`,
      `${sw.url}/v2/test/single/manifests/`,
      `${sw.url}/v2/test/single/manifests/`, // with ?ns below
      `${sw.url}/v2/${reg.host}/test/single/manifests/`,
    ];
    for (const [i, base] of shapes.entries()) {
      const ns = i === 2 ? `?ns=example.test` : '';
      for (const ref of ['v1', single.digest]) {
        const r = await get(`${base}${ref}${ns}`, { Accept: ACCEPT });
        assert.equal(r.status, 200, `${base}${ref}${ns}: ${r.body.toString()}`);
        assert.deepEqual(r.body, single.bytes);
        assert.equal(r.headers['docker-content-digest'], single.digest);
        assert.equal(r.headers['content-type'], single.mediaType);
        assert.equal(r.headers['content-length'], String(single.size));
      }
    }
  });

  test('HEAD by tag gives digest, type and length with no body', async () => {
    const r = await get(`${sw.url}/v2/example.test/test/single/manifests/v1`, { Accept: ACCEPT }, 'HEAD');
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
    assert.equal(r.headers['docker-content-digest'], single.digest);
    assert.equal(r.headers['content-length'], String(single.size));
  });

  test('a tag asked again is revalidated upstream (304), and a moved tag is served at once', async () => {
    const first = buildImage({ files: { 'v.txt': 'first push\n' } });
    const second = buildImage({ files: { 'v.txt': 'second push\n' } });
    await pushImage(reg, 'test/reval', 'live', first);
    const url = `${sw.url}/v2/example.test/test/reval/manifests/live`;
    const upstreamTagStatuses = (): number[] =>
      sw.upstreamRequests.filter((u) => u.url.endsWith('/v2/test/reval/manifests/live')).map((u) => u.status);

    const expectServed = async (img: TestImage): Promise<void> => {
      const r = await get(url, { Accept: ACCEPT });
      assert.equal(r.status, 200, r.body.toString());
      assert.deepEqual(r.body, img.bytes);
      assert.equal(r.headers['docker-content-digest'], img.digest);
      assert.equal(r.headers['content-length'], String(img.size));
    };
    await expectServed(first);
    await expectServed(first);
    const h = await get(url, { Accept: ACCEPT }, 'HEAD');
    assert.equal(h.headers['docker-content-digest'], first.digest);
    // distribution answered the repeats with 304 to sigward's If-None-Match: the tag was resolved there each time.
    assert.deepEqual(upstreamTagStatuses(), [200, 304, 304]);

    await pushImage(reg, 'test/reval', 'live', second);
    await expectServed(second);
    await expectServed(second);
    assert.deepEqual(upstreamTagStatuses(), [200, 304, 304, 200, 304]);
  });

  test('multi-arch: the index by tag and each child by digest, byte-exact', async () => {
    const idx = await get(`${sw.url}/v2/example.test/test/multi/manifests/v1`, { Accept: ACCEPT });
    assert.equal(idx.status, 200);
    assert.deepEqual(idx.body, multi.bytes);
    assert.equal(idx.headers['content-type'], 'application/vnd.oci.image.index.v1+json');
    for (const child of multi.manifests) {
      const r = await get(`${sw.url}/v2/example.test/test/multi/manifests/${child.digest}`, { Accept: '*/*' });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, child.bytes);
      assert.equal(r.headers['docker-content-digest'], child.digest);
    }
  });

  test('blobs stream byte-exact, HEAD gives the size, Range gives 206 with the exact slice', async () => {
    for (const [digest, data] of single.blobs) {
      const bytes = Buffer.from(data as Uint8Array);
      const r = await get(`${sw.url}/v2/example.test/test/single/blobs/${digest}`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, bytes);
      assert.equal(r.headers['docker-content-digest'], digest);
      const h = await get(`${sw.url}/v2/example.test/test/single/blobs/${digest}`, {}, 'HEAD');
      assert.equal(h.status, 200);
      assert.equal(h.headers['content-length'], String(bytes.length));
      const part = await get(`${sw.url}/v2/example.test/test/single/blobs/${digest}`, { Range: 'bytes=2-9' });
      assert.equal(part.status, 206);
      assert.deepEqual(part.body, bytes.subarray(2, 10));
      assert.match(part.headers['content-range'] ?? '', /^bytes 2-9\//);
    }
  });

  test('tags/list passes through; missing things are 404 with the upstream code', async () => {
    const t = await get(`${sw.url}/v2/example.test/test/single/tags/list`);
    assert.equal(t.status, 200);
    assert.deepEqual(JSON.parse(t.body.toString()), { name: 'test/single', tags: ['v1'] });
    const m = await get(`${sw.url}/v2/example.test/test/single/manifests/nope`, { Accept: ACCEPT });
    assert.equal(m.status, 404);
    assert.equal(JSON.parse(m.body.toString()).errors[0].code, 'MANIFEST_UNKNOWN');
    const b = await get(`${sw.url}/v2/example.test/test/single/blobs/sha256:${'0'.repeat(64)}`);
    assert.equal(b.status, 404);
    assert.equal(JSON.parse(b.body.toString()).errors[0].code, 'BLOB_UNKNOWN');
  });

  test('bad names, tags and digests are 400 and never sent upstream', async () => {
    const before = sw.upstreamRequests.length;
    const cases: [string, string][] = [
      ['/v2/example.test/Test/single/manifests/v1', 'NAME_INVALID'],
      ['/v2/example.test/test/single/manifests/-v1', 'TAG_INVALID'],
      ['/v2/example.test/test/single/manifests/sha256:abc', 'DIGEST_INVALID'],
      ['/v2/example.test/test/single/blobs/md5:abcd', 'DIGEST_INVALID'],
      ['/v2/example.test/test//single/manifests/v1', 'NAME_INVALID'],
      [`/v2/example.test/${'a'.repeat(300)}/manifests/v1`, 'NAME_INVALID'],
    ];
    for (const [path, code] of cases) {
      const r = await get(`${sw.url}${path}`);
      assert.equal(r.status, 400, path);
      assert.equal(JSON.parse(r.body.toString()).errors[0].code, code, path);
    }
    assert.equal(sw.upstreamRequests.length, before, 'no upstream request for bad input');
  });

  test('writes are 405 UNSUPPORTED and never sent upstream', async () => {
    const before = sw.upstreamRequests.length;
    for (const [method, path] of [
      ['PUT', '/v2/example.test/test/single/manifests/v2'],
      ['POST', '/v2/example.test/test/single/blobs/uploads/'],
      ['PATCH', '/v2/example.test/test/single/blobs/uploads/abc'],
      ['DELETE', `/v2/example.test/test/single/manifests/${single.digest}`],
    ] as const) {
      const r = await request(`${sw.url}${path}`, { method, body: method === 'DELETE' ? undefined : 'x' });
      const body = JSON.parse(await r.body.text());
      assert.equal(r.statusCode, 405, `${method} ${path}`);
      assert.equal(body.errors[0].code, 'UNSUPPORTED');
    }
    assert.equal(sw.upstreamRequests.length, before);
  });

  test('an unconfigured registry is refused and no connection is made to it', async () => {
    const port = (closedPort.address() as { port: number }).port;
    const before = sw.upstreamRequests.length;
    for (const path of [
      `/v2/127.0.0.1:${port}/x/manifests/latest`,
      `/v2/x/manifests/latest?ns=127.0.0.1:${port}`,
      `/v2/127.0.0.1:${port}/x/blobs/sha256:${'a'.repeat(64)}`,
      `/v2/evil.example/x/manifests/latest`,
    ]) {
      const r = await get(`${sw.url}${path}`);
      assert.equal(r.status, 404, path);
      const err = JSON.parse(r.body.toString()).errors[0];
      assert.equal(err.code, 'NAME_UNKNOWN');
      assert.match(err.message, /is not configured in sigward/);
    }
    assert.equal(closedConnections, 0, 'the unconfigured registry saw no connection');
    assert.equal(sw.upstreamRequests.length, before);
  });
});
