// UpstreamClient.getManifest / headManifest against fault-injecting fakes: digests over the exact bytes, lying
// upstreams, size caps, truncation, media type fallbacks, 404 mapping.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'undici';
import { digestOf, type Digest } from '../../src/oci/digest.ts';
import { MANIFEST_TYPES, MT } from '../../src/oci/mediatypes.ts';
import { UpstreamClient } from '../../src/upstream/client.ts';
import { ociError, startFake, type Fake } from '../helpers/fake-upstream.ts';
import { LIMITS, recorder, rejection, upstreamConfig } from '../helpers/upstream-setup.ts';

const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    config: { mediaType: 'x', digest: `sha256:${'a'.repeat(64)}`, size: 2 },
    layers: [],
  }),
);
const manifestDigest = digestOf(manifest);
// umoci writes no mediaType field; the shape still says "image manifest".
const noMediaType = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    config: { mediaType: 'x', digest: `sha256:${'b'.repeat(64)}`, size: 2 },
    layers: [],
  }),
);
const other = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}');
const big = Buffer.alloc(LIMITS.manifestBytes + 1, 0x20);

const tagRef = (tag: string) => ({ kind: 'tag' as const, tag });
const digestRef = (digest: Digest) => ({ kind: 'digest' as const, digest });

describe('UpstreamClient manifests', () => {
  let fake: Fake;
  let agent: Agent;
  let client: UpstreamClient;
  const rec = recorder();

  before(async () => {
    fake = await startFake((req, res) => {
      const path = req.url ?? '';
      const send = (bytes: Buffer, headers: Record<string, string>): void => {
        res.writeHead(200, headers);
        res.end(req.method === 'HEAD' ? undefined : bytes);
      };
      if (path.startsWith('/v2/wrong/repo/manifests/')) {
        send(other, { 'content-type': MT.ociIndex });
      } else if (path.endsWith(`/manifests/${manifestDigest}`) || path.endsWith('/manifests/good')) {
        send(manifest, {
          'content-type': MT.ociManifest,
          'content-length': String(manifest.length),
          'docker-content-digest': manifestDigest,
        });
      } else if (path.endsWith('/manifests/swapped')) {
        send(other, { 'content-type': MT.ociIndex, 'docker-content-digest': manifestDigest });
      } else if (path.endsWith('/manifests/bare')) {
        send(noMediaType, { 'content-type': 'application/json' });
      } else if (path.endsWith('/manifests/field')) {
        send(other, {});
      } else if (path.endsWith('/manifests/big-declared')) {
        send(big, { 'content-type': MT.ociManifest, 'content-length': String(big.length) });
      } else if (path.endsWith('/manifests/big-chunked')) {
        res.writeHead(200, { 'content-type': MT.ociManifest });
        for (let i = 0; i < 8; i++) res.write(big.subarray(0, 16 * 1024));
        res.end();
      } else if (path.endsWith('/manifests/truncated')) {
        res.writeHead(200, { 'content-type': MT.ociManifest, 'content-length': String(manifest.length) });
        res.write(manifest.subarray(0, 20), () => res.socket?.destroy()); // cut once the first bytes went out
      } else if (path.endsWith('/manifests/gone')) {
        ociError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
      } else if (path.startsWith('/v2/nobody/')) {
        ociError(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    agent = new Agent();
    client = new UpstreamClient(upstreamConfig(fake.url), { dispatcher: agent, limits: LIMITS, onRequest: rec.hook });
  });
  after(async () => {
    await agent.close();
    await fake.close();
  });

  test('by digest: exact bytes, the requested digest, Content-Type, and the full Accept set plus client extras', async () => {
    const m = await client.getManifest('test/app', digestRef(manifestDigest), {
      accept: new Set(['application/vnd.example+json', 'bad type\r\nx: y']),
    });
    assert.deepEqual(Buffer.from(m.bytes), manifest);
    assert.equal(m.digest, manifestDigest);
    assert.equal(m.mediaType, MT.ociManifest);
    assert.equal(m.size, manifest.length);
    const sent = fake.requests.at(-1);
    assert.equal(sent?.url, `/v2/test/app/manifests/${manifestDigest}`);
    const accept = String(sent?.headers.accept).split(', ');
    for (const t of MANIFEST_TYPES) assert.ok(accept.includes(t), `Accept lacks ${t}`);
    assert.ok(accept.includes('application/vnd.example+json'));
    assert.ok(!accept.some((t) => t.includes('bad')), 'a malformed client type must not be forwarded');
    assert.equal(rec.seen.at(-1)?.status, 200);
  });

  test('by digest: bytes that hash to something else -> UPSTREAM_DIGEST_MISMATCH naming both digests and the upstream', async () => {
    const e = await rejection(client.getManifest('wrong/repo', digestRef(manifestDigest)));
    assert.equal(e.code, 'UPSTREAM_DIGEST_MISMATCH');
    assert.ok(e.message.includes(manifestDigest));
    assert.ok(e.message.includes(digestOf(other)));
    assert.ok(e.message.includes(fake.host));
  });

  test('by tag: the computed digest is returned; a lying Docker-Content-Digest -> UPSTREAM_DIGEST_MISMATCH', async () => {
    const m = await client.getManifest('test/app', tagRef('good'));
    assert.equal(m.digest, manifestDigest);
    const e = await rejection(client.getManifest('test/app', tagRef('swapped')));
    assert.equal(e.code, 'UPSTREAM_DIGEST_MISMATCH');
    assert.ok(e.message.includes(manifestDigest) && e.message.includes(digestOf(other)));
  });

  test('by tag without the header: digest computed over the bytes', async () => {
    const m = await client.getManifest('wrong/repo', tagRef('anything'));
    assert.equal(m.digest, digestOf(other));
    assert.equal(m.mediaType, MT.ociIndex);
  });

  test('media type falls back to the mediaType field, then to the shape', async () => {
    assert.equal((await client.getManifest('test/app', tagRef('field'))).mediaType, MT.ociIndex);
    assert.equal((await client.getManifest('test/app', tagRef('bare'))).mediaType, MT.ociManifest);
  });

  test('oversize with Content-Length is refused before reading; without it, once past the cap', async () => {
    for (const tag of ['big-declared', 'big-chunked']) {
      const e = await rejection(client.getManifest('test/app', tagRef(tag)));
      assert.equal(e.code, 'UPSTREAM_TOO_LARGE', tag);
      assert.match(e.message, /limits\.manifestBytes/);
    }
  });

  test('a truncated body is UPSTREAM_UNAVAILABLE, not a short manifest', async () => {
    const e = await rejection(client.getManifest('test/app', tagRef('truncated')));
    assert.equal(e.code, 'UPSTREAM_UNAVAILABLE');
  });

  test('404 is mapped by the OCI code in the body, or by request kind when there is none', async () => {
    assert.equal((await rejection(client.getManifest('test/app', tagRef('gone')))).code, 'MANIFEST_UNKNOWN');
    assert.equal((await rejection(client.getManifest('nobody/here', tagRef('v1')))).code, 'NAME_UNKNOWN');
    const bare = await rejection(client.getManifest('test/app', tagRef('nothing')));
    assert.equal(bare.code, 'MANIFEST_UNKNOWN');
    assert.ok(bare.message.includes(fake.host));
  });

  test('headManifest reads digest, type and size from headers', async () => {
    const h = await client.headManifest('test/app', tagRef('good'));
    assert.deepEqual(h, { digest: manifestDigest, mediaType: MT.ociManifest, size: manifest.length });
    assert.equal(fake.requests.at(-1)?.method, 'HEAD');
    assert.equal((await rejection(client.headManifest('test/app', tagRef('nothing')))).code, 'MANIFEST_UNKNOWN');
  });

  test('path segments are encoded', async () => {
    await rejection(client.getManifest('a/b c', tagRef('x')));
    assert.equal(fake.requests.at(-1)?.url, '/v2/a/b%20c/manifests/x');
  });
});
