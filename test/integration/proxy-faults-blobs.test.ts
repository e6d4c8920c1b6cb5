// Fault injection, blobs: sigward (in-process) streams blobs from a scripted fake upstream that sends wrong bytes,
// too few bytes, stalls mid-body, or whose client hangs up. Once a 200 is under way the only honest signal is a cut
// connection, so the client never holds a complete body with wrong bytes; before any byte went out, a proper OCI
// error. Good blobs, big or chunked, come through byte-exact.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { serveBlob, serveBlobSlowly, sha256 } from '../helpers/fake-upstream.ts';
import { assertOciError, startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.ts';
import { waitFor } from '../helpers/proc.ts';
import { rawGet } from '../helpers/raw-http.ts';

describe('proxy faults: blob streaming (scripted fake upstream)', () => {
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

  test('a blob whose bytes do not match its digest is cut before the last chunk: never a complete 200', async () => {
    const right = randomBytes(256 * 1024);
    const wrong = Buffer.from(right);
    wrong[wrong.length - 1] = (wrong[wrong.length - 1] ?? 0) ^ 0xff; // one changed byte, at the very end
    const digest = sha256(right);
    fp.fake.route(`/v2/fault/badblob/blobs/${digest}`, (_req, res) =>
      serveBlob(res, wrong, { digest, chunk: 16 * 1024 }),
    );
    const r = await rawGet(fp.at(`fault/badblob/blobs/${digest}`));
    assert.equal(r.status, 200, 'the status went out before the bytes could be checked');
    assert.equal(r.headers['content-length'], String(right.length));
    assert.equal(r.complete, false, 'the body must be cut');
    assert.ok(r.error, 'the client sees an error on the body');
    assert.ok(r.body.length < right.length, `got ${r.body.length} of ${right.length} bytes`);
    assert.deepEqual(r.body, wrong.subarray(0, r.body.length), 'what did arrive is the prefix');
  });

  test('a one-chunk blob with wrong bytes is refused with 502 DIGEST_INVALID before any byte is sent', async () => {
    const right = Buffer.from('tiny blob\n');
    const digest = sha256(right);
    const wrong = Buffer.from('tiny blub\n');
    fp.fake.route(`/v2/fault/tinyblob/blobs/${digest}`, (_req, res) => serveBlob(res, wrong, { digest }));
    const r = await rawGet(fp.at(`fault/tinyblob/blobs/${digest}`));
    const err = assertOciError(r, 502, 'DIGEST_INVALID');
    assert.match(err.message, new RegExp(`${sha256(wrong).slice(7)}.*nothing was served`));
    assert.equal(r.headers['docker-content-digest'], undefined);
    assert.ok(!r.body.includes(wrong));
  });

  test('a truncated blob (fewer bytes than Content-Length, then close) reaches the client as an aborted body', async () => {
    const data = randomBytes(200 * 1024);
    const digest = sha256(data);
    fp.fake.route(`/v2/fault/short/blobs/${digest}`, (_req, res) => {
      res.writeHead(200, {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(data.length),
        'Docker-Content-Digest': digest,
      });
      res.write(data.subarray(0, 150 * 1024), () => res.socket?.destroy());
    });
    const r = await rawGet(fp.at(`fault/short/blobs/${digest}`));
    assert.equal(r.complete, false);
    assert.ok(r.error);
    assert.ok(r.body.length < data.length, `got ${r.body.length} of ${data.length} bytes`);
    assert.deepEqual(r.body, data.subarray(0, r.body.length));
  });

  test('a blob that stalls mid-body never reaches the client complete', async () => {
    const data = randomBytes(100 * 1024);
    const digest = sha256(data);
    fp.fake.route(`/v2/fault/stallbody/blobs/${digest}`, (_req, res) => {
      res.writeHead(200, {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(data.length),
        'Docker-Content-Digest': digest,
      });
      res.write(data.subarray(0, 30 * 1024)); // and then silence
    });
    const r = await rawGet(fp.at(`fault/stallbody/blobs/${digest}`), { timeoutMs: 10_000 });
    // How many chunks arrived before the silence decides the form: if none was passed on yet, a proper error
    // answer; otherwise a cut body. Never a complete 200.
    if (r.status === 200) {
      assert.equal(r.complete, false);
      assert.ok(r.body.length < data.length);
      assert.deepEqual(r.body, data.subarray(0, r.body.length));
    } else {
      assert.match(assertOciError(r, 503, 'UNAVAILABLE').message, /timeouts\.body/);
    }
  });

  test('a client that hangs up mid-blob makes sigward drop the upstream transfer too', async () => {
    const data = randomBytes(4 * 1024 * 1024);
    const digest = sha256(data);
    let upstreamClosedEarly = false;
    fp.fake.route(`/v2/fault/hangup/blobs/${digest}`, (_req, res) => {
      res.on('close', () => {
        upstreamClosedEarly = !res.writableFinished;
      });
      serveBlobSlowly(res, data);
    });
    await new Promise<void>((resolve) => {
      const req = request(fp.at(`fault/hangup/blobs/${digest}`), { agent: false }, (res) => {
        let got = 0;
        res.on('error', () => {}); // the hang-up below is ours
        res.on('data', (c: Buffer) => {
          got += c.length;
          if (got >= 128 * 1024) req.destroy();
        });
      });
      req.on('error', () => {});
      req.on('close', () => resolve());
      req.end();
    });
    await waitFor(async () => upstreamClosedEarly, 'the upstream response to be closed before its end', 10_000);
  });

  test('a 3 MiB blob streams byte-exact in many chunks with a good digest', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 123);
    const digest = sha256(data);
    fp.fake.route(`/v2/fault/large/blobs/${digest}`, (_req, res) => serveBlob(res, data, { chunk: 64 * 1024 }));
    const r = await rawGet(fp.at(`fault/large/blobs/${digest}`));
    assert.equal(r.status, 200);
    assert.ok(r.complete);
    assert.equal(r.headers['docker-content-digest'], digest);
    assert.equal(r.headers['content-length'], String(data.length));
    assert.equal(sha256(r.body), digest);
    assert.ok(r.body.equals(data));
  });

  test('big blobs (7 MiB, many chunks): byte-exact when right, cut before the end when one byte is wrong', async () => {
    const size = 7 * 1024 * 1024 + 7;
    const right = randomBytes(size);
    const digest = sha256(right);
    fp.fake.route(`/v2/fault/bigok/blobs/${digest}`, (_req, res) => serveBlob(res, right, { chunk: 100_000 }));
    const ok = await rawGet(fp.at(`fault/bigok/blobs/${digest}`));
    assert.equal(ok.status, 200);
    assert.ok(ok.complete);
    assert.ok(ok.body.equals(right));

    const wrong = Buffer.from(right);
    wrong[size - 1] = (wrong[size - 1] ?? 0) ^ 0x01;
    fp.fake.route(`/v2/fault/bigbad/blobs/${digest}`, (_req, res) => serveBlob(res, wrong, { digest, chunk: 100_000 }));
    const bad = await rawGet(fp.at(`fault/bigbad/blobs/${digest}`));
    assert.equal(bad.status, 200, 'the status went out before the bytes could be checked');
    assert.equal(bad.complete, false, 'the body must be cut');
    assert.ok(bad.body.length < size && bad.body.length > size / 2, `got ${bad.body.length} of ${size} bytes`);
    assert.ok(bad.body.equals(wrong.subarray(0, bad.body.length)), 'what did arrive is the prefix');
  });

  test('a chunked blob with no Content-Length is still checked and passed whole', async () => {
    const data = randomBytes(300 * 1024);
    const digest = sha256(data);
    fp.fake.route(`/v2/fault/chunked/blobs/${digest}`, (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      for (let i = 0; i < data.length; i += 32 * 1024) res.write(data.subarray(i, i + 32 * 1024));
      res.end();
    });
    const r = await rawGet(fp.at(`fault/chunked/blobs/${digest}`));
    assert.equal(r.status, 200);
    assert.ok(r.complete);
    assert.ok(r.body.equals(data));
  });
});
