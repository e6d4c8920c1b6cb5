// The sget store: downloads counted at a scripted upstream, files kept verified on disk, Range from the stored file,
// the size bound (least recently used evicted), restarts with an intact, unsealed or tampered file, a file that could
// not be made durable (served, then gone), and a cache directory that cannot be used.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  oneFileManifest,
  serveBlob,
  serveManifest,
  sha256,
  startFakeUpstream,
  type FakeUpstream,
} from '../helpers/fake-upstream.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { must } from '../helpers/must.ts';
import type { Digest } from '../../src/oci/digest.ts';
import { ociErrorOf, rawGet } from '../helpers/raw-http.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** `size` deterministic bytes that differ per `seed`. */
function bytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let at = 0, n = 0; at < size; n++) at += createHash('sha256').update(`${seed}/${n}`).digest().copy(out, at);
  return out;
}

/** A one-file artifact served by the fake upstream under `repo`; returns its manifest digest and file. */
function host(fake: FakeUpstream, repo: string, data: Buffer, title = 'file.bin'): { manifest: string; file: string } {
  const m = oneFileManifest(data, { title });
  fake.route(`/v2/${repo}/manifests/${sha256(m)}`, (req, res) => serveManifest(res, m, OCI_MANIFEST, req.method));
  fake.route(`/v2/${repo}/blobs/${sha256(data)}`, (_req, res) => serveBlob(res, data));
  return { manifest: sha256(m), file: sha256(data) };
}

describe('sget store', () => {
  let fake: FakeUpstream;
  let cacheDir: string;
  const config = (dir: string, storeSize = '1MiB') => ({
    upstreams: [{ host: 'example.test', url: fake.url }],
    cache: { dir },
    sget: { storeSize, maxArtifactSize: '512KiB' },
    policy: { default: 'deny', policies: [{ name: 'files', match: ['example.test/files/*'], allow: 'unsigned' }] },
  });
  const startedIn = new Map<RunningSigward, string>();
  const start = async (dir = cacheDir, storeSize?: string): Promise<RunningSigward> => {
    const sw = await startSigward(config(dir, storeSize));
    // Tests stop some instances themselves (restarts); after() stops the rest, each exactly once.
    const stop = sw.stop.bind(sw);
    let stopped: Promise<void> | undefined;
    sw.stop = () => (stopped ??= stop());
    startedIn.set(sw, dir);
    return sw;
  };
  /** A test's own directory goes only once the daemons using it stopped: a store still making a download durable
   * (fsync, rename into blobs/, seal) would write into it while it is being removed. */
  const stopThenRemove = async (dir: string): Promise<void> => {
    for (const [sw, d] of startedIn) if (d === dir) await sw.stop();
    removeTempDir(dir);
  };
  const blobFile = (digest: string, dir = cacheDir) => join(dir, 'sget', 'blobs', digest.replace(':', '-'));

  before(async () => {
    fake = await startFakeUpstream();
    cacheDir = tempDir('sget-store');
  });
  after(async () => {
    for (const sw of startedIn.keys()) await sw.stop();
    await fake?.stop();
    if (cacheDir) removeTempDir(cacheDir);
  });

  test('the first GET downloads once; later ones come from the store file (0400, sealed)', async () => {
    const sw = await start();
    const data = bytes('once', 100_000);
    const a = host(fake, 'files/once', data);
    for (let i = 0; i < 3; i++) {
      const r = await rawGet(`${sw.url}/sget/example.test/files/once@${a.manifest}`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, data);
    }
    assert.equal(fake.hits(`/v2/files/once/blobs/${a.file}`), 1);
    assert.equal(sw.app?.sget.downloads, 1);
    // It was served from tmp/ at once; fsync, the rename into blobs/ and the seal follow in the background.
    await sw.app?.sget.store.flush();
    assert.deepEqual(readFileSync(blobFile(a.file)), data);
    assert.equal(statSync(blobFile(a.file)).mode & 0o777, 0o400);
    assert.equal(statSync(join(cacheDir, 'sget')).mode & 0o777, 0o700);
    assert.ok(existsSync(`${blobFile(a.file)}.seal`));
    assert.equal(statSync(join(cacheDir, 'sget', 'seal.key')).mode & 0o777, 0o600);
  });

  test('Range requests are served from the verified file (resume), If-Range guards against other bytes', async () => {
    const sw = await start();
    const data = bytes('range', 50_000);
    const a = host(fake, 'files/range', data);
    const url = `${sw.url}/sget/example.test/files/range@${a.manifest}`;
    assert.equal((await rawGet(url)).status, 200);
    const cases: [string, number, number][] = [
      ['bytes=100-199', 100, 199],
      ['bytes=49000-', 49000, 49999],
      ['bytes=-10', 49990, 49999],
      ['bytes=49990-60000', 49990, 49999],
    ];
    for (const [range, from, to] of cases) {
      const r = await rawGet(url, { headers: { range } });
      assert.equal(r.status, 206, range);
      assert.deepEqual(r.body, data.subarray(from, to + 1), range);
      assert.equal(r.headers['content-range'], `bytes ${from}-${to}/${data.length}`);
      assert.equal(r.headers['content-length'], String(to - from + 1));
    }
    const outside = await rawGet(url, { headers: { range: 'bytes=50000-' } });
    assert.equal(outside.status, 416);
    assert.equal(outside.headers['content-range'], `bytes */${data.length}`);
    const otherEtag = await rawGet(url, { headers: { range: 'bytes=0-9', 'if-range': '"sha256:0000"' } });
    assert.equal(otherEtag.status, 200);
    assert.deepEqual(otherEtag.body, data);
    const sameEtag = await rawGet(url, { headers: { range: 'bytes=0-9', 'if-range': `"${a.file}"` } });
    assert.equal(sameEtag.status, 206);
    const multi = await rawGet(url, { headers: { range: 'bytes=0-1,5-6' } });
    assert.equal(multi.status, 200);
    assert.equal(multi.body.length, data.length);
    assert.equal(fake.hits(`/v2/files/range/blobs/${a.file}`), 1);
  });

  test('the store is bounded: the least recently used file is evicted', async () => {
    const dir = tempDir('sget-lru');
    try {
      const sw = await start(dir, '1MiB');
      const arts = ['a', 'b', 'c'].map((n) => ({
        n,
        data: bytes(`lru-${n}`, 400 * 1024),
        ...host(fake, `files/lru-${n}`, bytes(`lru-${n}`, 400 * 1024)),
      }));
      const get = (x: (typeof arts)[number]) => rawGet(`${sw.url}/sget/example.test/files/lru-${x.n}@${x.manifest}`);
      const [a, b, c] = arts as [(typeof arts)[number], (typeof arts)[number], (typeof arts)[number]];
      for (const x of [a, b, a, c]) assert.equal((await get(x)).status, 200);
      await sw.app?.sget.store.flush();
      // a was used after b, so c's arrival evicts b.
      assert.ok(existsSync(blobFile(a.file, dir)));
      assert.ok(!existsSync(blobFile(b.file, dir)));
      assert.ok(existsSync(blobFile(c.file, dir)));
      assert.ok((sw.app?.sget.store.usage.bytes ?? Infinity) <= 1024 * 1024);
      const again = await get(b);
      assert.deepEqual(again.body, b.data);
      assert.equal(fake.hits(`/v2/files/lru-b/blobs/${b.file}`), 2);
      assert.equal(fake.hits(`/v2/files/lru-a/blobs/${a.file}`), 1);
    } finally {
      await stopThenRemove(dir);
    }
  });

  test('after a restart: an intact file is served as is, an unsealed one re-hashed, a tampered one replaced', async () => {
    const dir = tempDir('sget-restart');
    try {
      const data = bytes('restart', 200_000);
      const a = host(fake, 'files/restart', data);
      const path = `/sget/example.test/files/restart@${a.manifest}`;
      const hits = () => fake.hits(`/v2/files/restart/blobs/${a.file}`);
      const first = await start(dir);
      assert.equal((await rawGet(first.url + path)).status, 200);
      await first.stop();
      assert.equal(hits(), 1);

      const intact = await start(dir);
      assert.deepEqual((await rawGet(intact.url + path)).body, data);
      assert.equal(intact.app?.sget.store.rehashes, 0);
      await intact.stop();

      unlinkSync(`${blobFile(a.file, dir)}.seal`);
      const unsealed = await start(dir);
      assert.deepEqual((await rawGet(unsealed.url + path)).body, data);
      assert.equal(unsealed.app?.sget.store.rehashes, 1);
      assert.ok(existsSync(`${blobFile(a.file, dir)}.seal`));
      await unsealed.stop();
      assert.equal(hits(), 1);

      // Same size, other bytes, and the old mtime put back: only the ctime still tells.
      const file = blobFile(a.file, dir);
      const { atime, mtime } = statSync(file);
      const evil = Buffer.from(data);
      evil.write('#!/bin/sh\nrm -rf ~\n', 0);
      chmodSync(file, 0o600); // the store wrote it 0400; a non-root tamperer who owns it can do this too
      writeFileSync(file, evil);
      utimesSync(file, atime, mtime);
      const tampered = await start(dir);
      const r = await rawGet(tampered.url + path);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, data);
      assert.equal(tampered.app?.sget.store.rehashes, 1);
      assert.equal(hits(), 2);
      await tampered.app?.sget.store.flush(); // the new file is renamed into blobs/ once it is durable
      assert.deepEqual(readFileSync(file), data);
    } finally {
      await stopThenRemove(dir);
    }
  });

  for (const step of ['syncFile', 'syncDir'] as const) {
    test(`a download whose background durability step fails (${step}): the client got the verified bytes, no store entry is left, a restart downloads it again`, async () => {
      const dir = tempDir('sget-durable');
      try {
        const repo = `files/durable-${step.toLowerCase()}`;
        const data = bytes(repo, 300_000);
        const a = host(fake, repo, data);
        const path = `/sget/example.test/${repo}@${a.manifest}`;
        const hits = () => fake.hits(`/v2/${repo}/blobs/${a.file}`);
        const first = await start(dir);
        const store = must(first.app, 'the in-process app').sget.store;
        store.durable[step] = () => Promise.reject(new Error('EIO: injected i/o error'));
        const r = await rawGet(first.url + path);
        assert.equal(r.status, 200);
        assert.deepEqual(r.body, data);
        await store.flush();
        assert.equal(store.has(a.file as Digest), false);
        assert.equal(existsSync(blobFile(a.file, dir)), false);
        assert.equal(existsSync(`${blobFile(a.file, dir)}.seal`), false);
        assert.deepEqual(readdirSync(join(dir, 'sget', 'tmp')), []);
        await first.stop();

        const again = await start(dir);
        assert.equal(again.app?.sget.store.usage.files, 0);
        assert.deepEqual((await rawGet(again.url + path)).body, data);
        assert.equal(hits(), 2);
        await again.app?.sget.store.flush();
        assert.ok(existsSync(`${blobFile(a.file, dir)}.seal`));
        await again.stop();
      } finally {
        await stopThenRemove(dir);
      }
    });
  }

  test('an unusable cache directory: the daemon runs and /v2/ works; sget answers 503 saying why', async () => {
    const dir = tempDir('sget-unusable');
    try {
      writeFileSync(join(dir, 'not-a-dir'), 'x');
      const data = bytes('unusable', 1000);
      const a = host(fake, 'files/unusable', data);
      const sw = await start(join(dir, 'not-a-dir', 'cache'));
      const r = await rawGet(`${sw.url}/sget/example.test/files/unusable@${a.manifest}`);
      assert.equal(r.status, 503);
      assert.equal(ociErrorOf(r.body)?.code, 'UNAVAILABLE');
      assert.match(ociErrorOf(r.body)?.message ?? '', /not-a-dir\/cache\/sget cannot be used.*cache\.dir/);
      assert.match(r.reason, /sget store unusable/);
      const pull = await rawGet(`${sw.url}/v2/example.test/files/unusable/manifests/${a.manifest}`, {
        headers: { accept: OCI_MANIFEST },
      });
      assert.equal(pull.status, 200);
      assert.equal(fake.hits(`/v2/files/unusable/blobs/${a.file}`), 0);
    } finally {
      await stopThenRemove(dir);
    }
  });
});
