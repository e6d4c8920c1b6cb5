// Fault injection, manifests and upstream statuses: sigward (in-process) in front of a scripted fake upstream that
// lies about digests, sends too much, stalls, resets and fails. Each fault must end in the right OCI error with
// nothing of the bad answer passed on, and sigward must go on serving good requests afterwards.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildImage, OCI_MANIFEST } from '../helpers/images.ts';
import { ociError, serveManifest, sha256 } from '../helpers/fake-upstream.ts';
import { ACCEPT, assertOciError, MANIFEST_CAP, startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.ts';
import { rawGet } from '../helpers/raw-http.ts';

/** A well-formed manifest JSON of exactly `size` bytes (padded through an annotation). */
function manifestOfSize(size: number): Buffer {
  const base = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(Buffer.from('{}')), size: 2 },
    layers: [],
    annotations: { pad: '' },
  };
  const empty = Buffer.byteLength(JSON.stringify(base));
  base.annotations.pad = 'x'.repeat(size - empty);
  return Buffer.from(JSON.stringify(base));
}

describe('proxy faults: manifests and upstream statuses (scripted fake upstream)', () => {
  let fp: FaultProxy;
  before(async () => {
    fp = await startFaultProxy();
  });
  after(async () => {
    await fp?.stop();
  });
  afterEach(async () => {
    await fp.assertStillServes();
  });

  test('the good image is served byte-exact (baseline for the follow-up checks)', async () => {
    const r = await rawGet(fp.at('fault/good/manifests/v1'), { headers: ACCEPT });
    assert.equal(r.headers['docker-content-digest'], fp.good.digest);
    assert.equal(r.headers['content-type'], fp.good.mediaType);
  });

  test('a manifest by digest whose bytes do not match is 502 DIGEST_INVALID and not served; nothing is cached', async () => {
    const wanted = buildImage({ files: { 'hello.txt': 'the image that was asked for\n' } });
    const other = buildImage({ files: { 'hello.txt': 'what the upstream sends instead\n' } });
    const path = `/v2/fault/mismatch/manifests/${wanted.digest}`;
    fp.fake.route(path, (req, res) => serveManifest(res, other.bytes, OCI_MANIFEST, req.method));
    const r = await rawGet(fp.at(`fault/mismatch/manifests/${wanted.digest}`), { headers: ACCEPT });
    const err = assertOciError(r, 502, 'DIGEST_INVALID');
    assert.match(err.message, new RegExp(other.digest.slice(7)));
    assert.ok(!r.body.includes(other.bytes), 'the wrong manifest bytes never reach the client');
    // Once the upstream is fixed the right bytes come through: the failure was not remembered.
    fp.fake.route(path, (req, res) => serveManifest(res, wanted.bytes, OCI_MANIFEST, req.method));
    const fixed = await rawGet(fp.at(`fault/mismatch/manifests/${wanted.digest}`), { headers: ACCEPT });
    assert.equal(fixed.status, 200);
    assert.deepEqual(fixed.body, wanted.bytes);
  });

  test('a tag whose Docker-Content-Digest lies is 502 DIGEST_INVALID', async () => {
    const other = buildImage({ files: { 'hello.txt': 'claimed but not sent\n' } });
    fp.fake.route('/v2/fault/liar/manifests/v1', (req, res) => {
      res.writeHead(200, {
        'Content-Type': OCI_MANIFEST,
        'Content-Length': String(fp.good.size),
        'Docker-Content-Digest': other.digest,
      });
      res.end(req.method === 'HEAD' ? undefined : fp.good.bytes);
    });
    for (const method of ['GET', 'HEAD']) {
      const r = await rawGet(fp.at('fault/liar/manifests/v1'), { method, headers: ACCEPT });
      assert.equal(r.status, 502, method);
      assert.equal(r.headers['docker-content-digest'], undefined, `${method}: no digest header on a refusal`);
      if (method === 'GET') {
        assert.match(assertOciError(r, 502, 'DIGEST_INVALID').message, new RegExp(other.digest.slice(7)));
        assert.ok(!r.body.includes(fp.good.bytes));
      }
    }
  });

  test('an oversize manifest is 502 SIZE_INVALID, announced by Content-Length or only found while reading', async () => {
    const big = manifestOfSize(MANIFEST_CAP + 500);
    fp.fake.route('/v2/fault/big/manifests/declared', (req, res) => serveManifest(res, big, OCI_MANIFEST, req.method));
    fp.fake.route('/v2/fault/big/manifests/chunked', (_req, res) => {
      // No Content-Length: node sends it chunked, so the cap can only be enforced while counting bytes.
      res.writeHead(200, { 'Content-Type': OCI_MANIFEST });
      for (let i = 0; i < big.length; i += 256) res.write(big.subarray(i, i + 256));
      res.end();
    });
    for (const tag of ['declared', 'chunked']) {
      const r = await rawGet(fp.at(`fault/big/manifests/${tag}`), { headers: ACCEPT });
      const err = assertOciError(r, 502, 'SIZE_INVALID');
      assert.match(err.message, /limits\.manifestBytes/, tag);
      assert.ok(!r.body.includes(big.subarray(0, 64)), `${tag}: no manifest bytes are passed on`);
    }
    // Exactly at the cap is still fine.
    const edge = manifestOfSize(MANIFEST_CAP);
    fp.fake.route('/v2/fault/big/manifests/edge', (req, res) => serveManifest(res, edge, OCI_MANIFEST, req.method));
    const ok = await rawGet(fp.at('fault/big/manifests/edge'), { headers: ACCEPT });
    assert.equal(ok.status, 200, ok.body.toString());
    assert.deepEqual(ok.body, edge);
  });

  test('an upstream whose headers never come gives 503 UNAVAILABLE after the headers timeout', async () => {
    fp.fake.route('/v2/fault/stall/manifests/v1', () => {
      /* never answer: the socket is destroyed by fp.fake.stop() */
    });
    // The client waits at most 10 s: far less than the 30 s default, so only the configured 400 ms can answer it.
    const r = await rawGet(fp.at('fault/stall/manifests/v1'), { headers: ACCEPT, timeoutMs: 10_000 });
    const err = assertOciError(r, 503, 'UNAVAILABLE');
    assert.match(err.message, /timed out waiting for response headers/);
    assert.match(err.message, /timeouts\.headers/);
    assert.equal(fp.fake.hits('/v2/fault/stall/manifests/v1'), 1, 'a timeout is not retried');
  });

  test('a connection reset before the answer is retried once and then served', async () => {
    const path = '/v2/fault/reset/manifests/v1';
    fp.fake.route(path, (req, res, attempt) => {
      if (attempt === 1) req.socket.destroy();
      else serveManifest(res, fp.good.bytes, fp.good.mediaType, req.method);
    });
    const r = await rawGet(fp.at('fault/reset/manifests/v1'), { headers: ACCEPT });
    assert.equal(r.status, 200, r.body.toString());
    assert.deepEqual(r.body, fp.good.bytes);
    assert.equal(fp.fake.hits(path), 2, 'one failed attempt and one retry');
  });

  test('resets on every attempt end in 503 UNAVAILABLE after the configured retries', async () => {
    const path = `/v2/fault/resetall/blobs/${fp.goodLayer[0]}`;
    fp.fake.route(path, (req) => req.socket.destroy());
    const r = await rawGet(fp.at(`fault/resetall/blobs/${fp.goodLayer[0]}`));
    const err = assertOciError(r, 503, 'UNAVAILABLE');
    assert.match(err.message, /closed or refused the connection/);
    assert.equal(fp.fake.hits(path), 2, 'retries: 1 means two attempts in all');
  });

  test('429 with Retry-After is passed on as 429 TOOMANYREQUESTS with Retry-After', async () => {
    const path = '/v2/fault/busy/manifests/v1';
    fp.fake.route(path, (_req, res) => ociError(res, 429, 'TOOMANYREQUESTS', 'slow down', { 'Retry-After': '7' }));
    const r = await rawGet(fp.at('fault/busy/manifests/v1'), { headers: ACCEPT });
    const err = assertOciError(r, 429, 'TOOMANYREQUESTS');
    assert.equal(r.headers['retry-after'], '7');
    assert.match(err.message, /slow down/);
    assert.equal(fp.fake.hits(path), 1, 'an HTTP error is not retried');
  });

  test('500 from the upstream is 503 UNAVAILABLE, for manifests and blobs', async () => {
    fp.fake.route('/v2/fault/broken/manifests/v1', (_req, res) => ociError(res, 500, 'UNKNOWN', 'database on fire'));
    fp.fake.route(`/v2/fault/broken/blobs/${fp.goodLayer[0]}`, (_req, res) => {
      res.writeHead(500, { 'Content-Type': 'text/html' });
      res.end('<html>internal error</html>');
    });
    const m = await rawGet(fp.at('fault/broken/manifests/v1'), { headers: ACCEPT });
    assert.match(assertOciError(m, 503, 'UNAVAILABLE').message, /answered 500.*database on fire/);
    const b = await rawGet(fp.at(`fault/broken/blobs/${fp.goodLayer[0]}`));
    assert.match(assertOciError(b, 503, 'UNAVAILABLE').message, /answered 500/);
    const h = await rawGet(fp.at('fault/broken/manifests/v1'), { method: 'HEAD', headers: ACCEPT });
    assert.equal(h.status, 503);
    assert.equal(h.body.length, 0);
  });

  test('an endless error body is cut after its first bytes; the status is still mapped', async () => {
    let sent = 0;
    let cut = false;
    let closed!: () => void;
    const upstreamClosed = new Promise<void>((resolve) => (closed = resolve));
    const limit = 64 * 1024 * 1024;
    fp.fake.route('/v2/fault/endless/manifests/v1', (_req, res) => {
      res.writeHead(500, { 'Content-Type': 'text/plain' }); // chunked: no length to refuse it by
      res.on('close', () => {
        cut = !res.writableFinished;
        closed();
      });
      const chunk = Buffer.alloc(16 * 1024, 'x');
      const pump = (): void => {
        while (sent < limit && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (!res.destroyed) res.end();
      };
      pump();
    });
    const r = await rawGet(fp.at('fault/endless/manifests/v1'), { headers: ACCEPT });
    assert.match(assertOciError(r, 503, 'UNAVAILABLE').message, /answered 500/);
    await upstreamClosed;
    assert.ok(cut && sent < limit, `sigward stopped reading the error body (upstream wrote ${sent} bytes)`);
  });

  test('304 Not Modified: only an answer to the validator sigward sent, for the digest it named', async () => {
    const a = buildImage({ files: { 'hello.txt': 'revalidated\n' } });
    const other = buildImage({ files: { 'hello.txt': 'named in a lying 304\n' } });
    const seen: (string | undefined)[] = [];
    let mode: 'serve' | 'unasked-304' | 'wrong-digest-304' | 'honest' = 'unasked-304';
    fp.fake.route('/v2/fault/notmod/manifests/v1', (req, res) => {
      const inm = req.headers['if-none-match'];
      seen.push(inm);
      if (mode === 'unasked-304') return void res.writeHead(304).end();
      if (mode === 'wrong-digest-304' && inm !== undefined)
        return void res.writeHead(304, { 'Docker-Content-Digest': other.digest }).end();
      if (mode === 'honest' && inm === `"${a.digest}"`)
        return void res.writeHead(304, { 'Docker-Content-Digest': a.digest }).end();
      serveManifest(res, a.bytes, OCI_MANIFEST, req.method);
    });
    const at = fp.at('fault/notmod/manifests/v1');
    // A 304 to a request without If-None-Match says nothing about which manifest the tag names.
    const unasked = await rawGet(at, { headers: ACCEPT });
    assert.match(
      assertOciError(unasked, 502, 'UNKNOWN').message,
      /304 Not Modified, though sigward sent no If-None-Match/,
    );
    assert.equal(seen.at(-1), undefined);

    mode = 'serve';
    assert.deepEqual((await rawGet(at, { headers: ACCEPT })).body, a.bytes);
    // The next request carries the digest just served; a 304 naming another digest is a lie.
    mode = 'wrong-digest-304';
    const lie = await rawGet(at, { headers: ACCEPT });
    assert.equal(seen.at(-1), `"${a.digest}"`);
    assert.match(
      assertOciError(lie, 502, 'DIGEST_INVALID').message,
      new RegExp(`is unchanged \\(${a.digest}\\) but named ${other.digest}`),
    );
    assert.ok(!lie.body.includes(a.bytes));

    mode = 'honest';
    const ok = await rawGet(at, { headers: ACCEPT });
    assert.equal(seen.at(-1), `"${a.digest}"`);
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, a.bytes, 'a 304 serves the bytes checked when they first arrived');
    assert.equal(ok.headers['docker-content-digest'], a.digest);
  });

  test('a manifest body cut short by the upstream is 503 UNAVAILABLE, nothing served', async () => {
    fp.fake.route('/v2/fault/shortmanifest/manifests/v1', (_req, res) => {
      res.writeHead(200, { 'Content-Type': OCI_MANIFEST, 'Content-Length': String(fp.good.size) });
      res.write(fp.good.bytes.subarray(0, 40), () => res.socket?.destroy());
    });
    const r = await rawGet(fp.at('fault/shortmanifest/manifests/v1'), { headers: ACCEPT });
    assert.match(
      assertOciError(r, 503, 'UNAVAILABLE').message,
      /closed or refused the connection while sending the body/,
    );
  });
});
