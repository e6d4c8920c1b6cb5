// `blobs: cache` on an upstream: /v2/ blobs relayed once are kept in sget's sealed, bounded store, only after their
// digest checked out on the way, and served from disk afterwards (whole, a byte range, HEAD) without asking the
// upstream. A stored file changed on disk is never served; the store's one bound (sget.storeSize) evicts the least
// recently used. A real distribution; skopeo as the real client; tampered upstream bytes come from a storage front.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.ts';
import { buildImage, pushImage, type TestImage } from '../helpers/images.ts';
import { tempDir, waitFor } from '../helpers/proc.ts';
import { rawGet } from '../helpers/raw-http.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { getBlob, sha256 } from '../helpers/registry-client.ts';
import { createSkopeo } from '../helpers/skopeo.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { startStorageFront, type StorageFront } from '../helpers/storage-front.ts';
import { must } from '../helpers/must.ts';
import { layerOf } from '../helpers/image-parts.ts';
import type { BlobStore } from '../../src/sget/store.ts';

/** An image whose layer is `kib` KiB of random (incompressible) bytes. */
const randomImage = (kib: number): TestImage => buildImage({ files: { 'r.bin': randomBytes(kib * 1024) } });

const blobGets = (sw: RunningSigward): number =>
  sw.upstreamRequests.filter((q) => q.method === 'GET' && q.url.includes('/blobs/')).length;
const storeOf = (sw: RunningSigward): BlobStore => must(sw.app, 'in-process sigward').sget.store;
const fileOf = (dir: string, digest: string): string => join(dir, 'sget', 'blobs', digest.replace(':', '-'));

/** Once the copy of `digest` is renamed in and sealed. */
async function stored(sw: RunningSigward, digest: string): Promise<void> {
  await waitFor(async () => storeOf(sw).has(digest as never), `${digest} to be stored`, 10_000);
  await storeOf(sw).flush();
}

describe('blobs: cache', () => {
  let reg: Registry;
  let front: StorageFront;
  let sw: RunningSigward;
  let viaFront: RunningSigward; // the same, its upstream the front whose storage flips the bytes of `bad`
  const dir = tempDir('blob-cache');
  const frontDir = tempDir('blob-cache-front');
  const app = randomImage(300);
  const bad = randomImage(64);

  before(async () => {
    reg = await startRegistry();
    await pushImage(reg, 'apps/app', 'v1', app);
    await pushImage(reg, 'apps/bad', 'v1', bad);
    front = await startStorageFront(reg.url);
    front.tampered.add(layerOf(bad));
    sw = await startSigward({
      upstreams: [{ host: 'example.test', url: reg.url, blobs: 'cache' }],
      policy: { default: 'allow' },
      cache: { dir },
    });
    viaFront = await startSigward({
      upstreams: [{ host: 'example.test', url: front.url, blobs: 'cache', allowPrivateNetworks: true }],
      policy: { default: 'allow' },
      cache: { dir: frontDir },
    });
  });
  after(async () => {
    await viaFront?.stop();
    await sw?.stop();
    await front?.stop();
    await reg?.stop();
  });

  test('a relayed blob is stored once its digest checked out, then served from disk without the upstream', async () => {
    const digest = layerOf(app);
    const first = await rawGet(`${sw.url}/v2/example.test/apps/app/blobs/${digest}`);
    assert.equal(first.status, 200);
    assert.equal(sha256(first.body), digest);
    await stored(sw, digest);
    assert.equal(sha256(readFileSync(fileOf(dir, digest))), digest);
    assert.equal(statSync(fileOf(dir, digest)).mode & 0o777, 0o400);
    const asked = blobGets(sw);
    const warm = await rawGet(`${sw.url}/v2/example.test/apps/app/blobs/${digest}`);
    assert.equal(warm.status, 200);
    assert.equal(sha256(warm.body), digest);
    assert.equal(warm.headers['docker-content-digest'], digest);
    // A warm answer is a relayed blob's, not an sget download's: nothing the cold answer lacks.
    for (const h of ['content-disposition', 'cache-control', 'repr-digest', 'digest']) {
      assert.equal(first.headers[h], undefined, `cold ${h}`);
      assert.equal(warm.headers[h], undefined, `warm ${h}`);
    }
    const head = await rawGet(`${sw.url}/v2/example.test/apps/app/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(first.body.length));
    assert.equal(blobGets(sw), asked, 'neither asked the upstream');
    assert.equal(sw.upstreamRequests.filter((q) => q.method === 'HEAD').length, 0);
  });

  test('warm Range requests: one byte range (206), a suffix range, and 416 past the end', async () => {
    const digest = layerOf(app);
    await rawGet(`${sw.url}/v2/example.test/apps/app/blobs/${digest}`);
    await stored(sw, digest);
    const whole = await getBlob(reg, 'apps/app', digest);
    const asked = blobGets(sw);
    const part = await rawGet(`${sw.url}/v2/example.test/apps/app/blobs/${digest}`, {
      headers: { Range: 'bytes=100-1099' },
    });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 100-1099/${whole.length}`);
    assert.deepEqual(part.body, whole.subarray(100, 1100));
    const tail = await rawGet(`${sw.url}/v2/example.test/apps/app/blobs/${digest}`, {
      headers: { Range: 'bytes=-10' },
    });
    assert.equal(tail.status, 206);
    assert.deepEqual(tail.body, whole.subarray(whole.length - 10));
    const past = await rawGet(`${sw.url}/v2/example.test/apps/app/blobs/${digest}`, {
      headers: { Range: `bytes=${whole.length}-` },
    });
    assert.equal(past.status, 416);
    assert.equal(past.headers['content-range'], `bytes */${whole.length}`);
    assert.equal(blobGets(sw), asked);
  });

  test('upstream bytes that do not match the digest are never stored', async () => {
    const digest = layerOf(bad);
    // Never whole: a 502 before any byte, a 200 whose body is cut, or, when the cut comes in the same turn as the first
    // write, a connection closed before its status line left (node's "socket hang up"), never another failure.
    const whole = await rawGet(`${viaFront.url}/v2/example.test/apps/bad/blobs/${digest}`).then(
      (r) => r.status === 200 && r.complete,
      (e: unknown) => {
        assert.equal((e as { code?: string }).code, 'ECONNRESET', String(e));
        return false;
      },
    );
    assert.equal(whole, false, 'the tampered bytes never arrive whole');
    const tmp = join(frontDir, 'sget', 'tmp');
    await waitFor(async () => readdirSync(tmp).length === 0, 'the copy to be removed', 10_000);
    assert.equal(existsSync(fileOf(frontDir, digest)), false);
    assert.equal(storeOf(viaFront).has(digest as never), false);
    // The same front's good bytes are stored: the path that refused the bad ones does store.
    const good = layerOf(app);
    assert.equal((await rawGet(`${viaFront.url}/v2/example.test/apps/app/blobs/${good}`)).status, 200);
    await stored(viaFront, good);
  });

  test('a stored file changed on disk is re-hashed, dropped and relayed again, never served', async () => {
    const digest = layerOf(app);
    await rawGet(`${sw.url}/v2/example.test/apps/app/blobs/${digest}`);
    await stored(sw, digest);
    const file = fileOf(dir, digest);
    const original = readFileSync(file);
    chmodSync(file, 0o600);
    writeFileSync(file, Buffer.from(original.map((b) => b ^ 0x01)));
    chmodSync(file, 0o400);
    const asked = blobGets(sw);
    const rehashes = storeOf(sw).rehashes;
    const r = await rawGet(`${sw.url}/v2/example.test/apps/app/blobs/${digest}`);
    assert.equal(r.status, 200);
    assert.equal(sha256(r.body), digest, 'the upstream bytes, not the changed file');
    assert.equal(storeOf(sw).rehashes, rehashes + 1);
    assert.equal(blobGets(sw), asked + 1, 'relayed from the upstream');
    await stored(sw, digest);
    assert.equal(sha256(readFileSync(file)), digest, 'stored again from the relayed bytes');
  });

  test('concurrent cold pulls of one blob: all served, one copy written and kept', async () => {
    const img = randomImage(200);
    await pushImage(reg, 'apps/many', 'v1', img);
    const digest = layerOf(img);
    // A sigward of its own whose log is read: each copy that is kept (or fails to be) is one line. A file name in the
    // store is unique whatever happens, so counting files could never show a second copy.
    const lines: string[] = [];
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
          done();
        },
      }),
    );
    const own = tempDir('blob-cache-many');
    const many = await startSigward(
      {
        upstreams: [{ host: 'example.test', url: reg.url, blobs: 'cache' }],
        policy: { default: 'allow' },
        cache: { dir: own },
      },
      { logger },
    );
    try {
      const all = await Promise.all(
        [1, 2, 3, 4].map(() => rawGet(`${many.url}/v2/example.test/apps/many/blobs/${digest}`)),
      );
      for (const r of all) {
        assert.equal(r.status, 200);
        assert.equal(sha256(r.body), digest);
      }
      await stored(many, digest);
      await waitFor(async () => readdirSync(join(own, 'sget', 'tmp')).length === 0, 'every copy to be done', 10_000);
      const kept = lines.filter(
        (l) => l.includes(digest) && /blob cache: (blob verified and stored|the verified copy could not)/.test(l),
      );
      assert.equal(kept.length, 1, kept.join('\n'));
      assert.equal(blobGets(many), 4, 'each pull relayed (the copy is made once, alongside one of them)');
    } finally {
      await many.stop();
    }
  });

  test('a client that leaves in the middle of a warm transfer: the next one gets the whole blob', async () => {
    const img = randomImage(3 * 1024);
    await pushImage(reg, 'apps/left', 'v1', img);
    const digest = layerOf(img);
    await rawGet(`${sw.url}/v2/example.test/apps/left/blobs/${digest}`);
    await stored(sw, digest);
    const asked = blobGets(sw);
    const got = await new Promise<number>((resolve) => {
      const req = httpRequest(`${sw.url}/v2/example.test/apps/left/blobs/${digest}`, { agent: false }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
          req.destroy();
        });
        res.on('close', () => resolve(n));
      });
      req.on('error', () => undefined);
      req.on('close', () => resolve(0));
      req.end();
    });
    assert.ok(got < 3 * 1024 * 1024, `${got} bytes before leaving`);
    const whole = await rawGet(`${sw.url}/v2/example.test/apps/left/blobs/${digest}`);
    assert.equal(whole.status, 200);
    assert.equal(sha256(whole.body), digest);
    assert.equal(blobGets(sw), asked, 'both from the store');
  });

  test('skopeo copies an image twice: the second time every blob comes from the store', async () => {
    const img = randomImage(100);
    await pushImage(reg, 'apps/sk', 'v1', img);
    const skopeo = createSkopeo({ sigward: sw.host, prefix: 'example.test' });
    try {
      const out = tempDir('blob-cache-skopeo');
      const a = await skopeo.run(['copy', 'docker://example.test/apps/sk:v1', `dir:${join(out, 'a')}`]);
      assert.equal(a.code, 0, a.stderr);
      for (const d of img.blobs.keys()) await stored(sw, d);
      const asked = blobGets(sw);
      const b = await skopeo.run(['copy', 'docker://example.test/apps/sk:v1', `dir:${join(out, 'b')}`]);
      assert.equal(b.code, 0, b.stderr);
      assert.equal(blobGets(sw), asked);
      assert.equal(sha256(readFileSync(join(out, 'b', layerOf(img).slice(7)))), layerOf(img));
    } finally {
      skopeo.remove();
    }
  });
});

describe('blobs: cache, bounded by sget.storeSize', () => {
  let reg: Registry;
  let sw: RunningSigward;
  const dir = tempDir('blob-cache-bound');
  const images = [randomImage(400), randomImage(400), randomImage(400)];

  before(async () => {
    reg = await startRegistry();
    for (const [i, img] of images.entries()) await pushImage(reg, `apps/b${i}`, 'v1', img);
    sw = await startSigward({
      upstreams: [{ host: 'example.test', url: reg.url, blobs: 'cache' }],
      policy: { default: 'allow' },
      cache: { dir },
      sget: { storeSize: '1MiB' },
    });
  });
  after(async () => {
    await sw?.stop();
    await reg?.stop();
  });

  test('the least recently used blob is evicted; the store never holds more than its bound', async () => {
    const store = storeOf(sw);
    for (const [i, img] of images.entries()) {
      const digest = layerOf(img);
      const r = await rawGet(`${sw.url}/v2/example.test/apps/b${i}/blobs/${digest}`);
      assert.equal(r.status, 200);
      await stored(sw, digest);
      assert.ok(store.usage.bytes <= 1024 * 1024, `${store.usage.bytes} bytes held`);
    }
    assert.equal(store.has(layerOf(must(images[0], 'first')) as never), false, 'the first one was evicted');
    assert.equal(store.has(layerOf(must(images[2], 'last')) as never), true);
    const onDisk = readdirSync(join(dir, 'sget', 'blobs'))
      .filter((f) => !f.endsWith('.seal'))
      .reduce((n, f) => n + statSync(join(dir, 'sget', 'blobs', f)).size, 0);
    assert.ok(onDisk <= 1024 * 1024, `${onDisk} bytes on disk`);
  });
});
