// `blobs: redirect` on an upstream: sigward asks for a blob with its own credentials and hands the upstream's redirect
// to its storage to the client, so the bytes go from the storage straight to the client, which checks the digest
// against the manifest sigward verified. A real distribution behind a front whose blob GETs redirect to a second
// loopback origin (test/helpers/storage-front.ts); skopeo, ctr and podman as the real clients, each of which must
// refuse a blob whose redirected bytes do not match its digest.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startContainerd, type Containerd } from '../helpers/containerd.ts';
import { buildImage, pushImage } from '../helpers/images.ts';
import { createPodman, podmanWorks } from '../helpers/podman.ts';
import { runCommand, tempDir } from '../helpers/proc.ts';
import { rawGet } from '../helpers/raw-http.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { getBlob, sha256 } from '../helpers/registry-client.ts';
import { createSkopeo } from '../helpers/skopeo.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { startStorageFront, type StorageFront } from '../helpers/storage-front.ts';
import { layerOf } from '../helpers/image-parts.ts';

const good = buildImage({ files: { 'good.txt': 'fetched from the storage, checked by the client\n' } });
const bad = buildImage({ files: { 'bad.txt': 'the storage will flip every byte of this layer\n' } });

/** Blob requests sigward itself made to the storage origin. */
const storageAskedBySigward = (sw: RunningSigward, front: StorageFront): number =>
  sw.upstreamRequests.filter((q) => q.url.startsWith(front.storageUrl)).length;

describe('blobs: redirect', () => {
  let reg: Registry;
  let front: StorageFront;
  let sw: RunningSigward; // blobs: redirect
  let relay: RunningSigward; // the same upstream relayed (the default), storage reachable
  let referenced: RunningSigward; // blobs: redirect with blobs.serve: referenced

  before(async () => {
    reg = await startRegistry();
    await pushImage(reg, 'apps/good', 'v1', good);
    await pushImage(reg, 'apps/bad', 'v1', bad);
    front = await startStorageFront(reg.url);
    front.tampered.add(layerOf(bad));
    // allowPrivateNetworks: the storage is on loopback, and /sget/ follows the redirect itself.
    const upstream = { host: 'example.test', url: front.url, blobs: 'redirect', allowPrivateNetworks: true };
    sw = await startSigward({
      upstreams: [upstream],
      policy: { default: 'allow' },
      cache: { dir: tempDir('redirect-cache') },
    });
    relay = await startSigward({
      upstreams: [{ host: 'example.test', url: front.url, allowPrivateNetworks: true }],
      policy: { default: 'allow' },
    });
    referenced = await startSigward({
      upstreams: [upstream],
      policy: { default: 'allow' },
      cache: { dir: tempDir('redirect-referenced') },
      blobs: { serve: 'referenced' },
    });
  });
  after(async () => {
    await referenced?.stop();
    await relay?.stop();
    await sw?.stop();
    await front?.stop();
    await reg?.stop();
  });

  test('a blob GET is answered with the upstream redirect; sigward never fetches the bytes', async () => {
    const digest = layerOf(good);
    const r = await rawGet(`${sw.url}/v2/example.test/apps/good/blobs/${digest}`);
    assert.equal(r.status, 307);
    const location = String(r.headers.location);
    assert.ok(location.startsWith(`${front.storageUrl}/storage/apps/good/${digest}?X-Signature=`), location);
    assert.equal(r.headers['docker-content-digest'], digest);
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.equal(r.body.length, 0);
    assert.equal(storageAskedBySigward(sw, front), 0);
    const followed = await rawGet(location);
    assert.equal(followed.status, 200);
    assert.equal(sha256(followed.body), digest);
  });

  test('a redirect into a non-public network is not handed out unless the upstream allows private networks', async () => {
    const strict = await startSigward({
      upstreams: [{ host: 'example.test', url: front.url, blobs: 'redirect' }],
      policy: { default: 'allow' },
    });
    try {
      const r = await rawGet(`${strict.url}/v2/example.test/apps/good/blobs/${layerOf(good)}`);
      assert.equal(r.status, 502, r.body.toString());
      assert.equal(r.headers.location, undefined);
      assert.match(r.body.toString(), /does not follow an upstream into non-public networks/);
    } finally {
      await strict.stop();
    }
  });

  test('a Range GET is redirected too (the client sends its Range to the storage); HEAD is answered by sigward', async () => {
    const digest = layerOf(good);
    const r = await rawGet(`${sw.url}/v2/example.test/apps/good/blobs/${digest}`, { headers: { Range: 'bytes=0-9' } });
    assert.equal(r.status, 307);
    const part = await rawGet(String(r.headers.location), { headers: { Range: 'bytes=0-9' } });
    assert.equal(part.status, 206);
    assert.deepEqual(part.body, (await getBlob(reg, 'apps/good', digest)).subarray(0, 10));
    const head = await rawGet(`${sw.url}/v2/example.test/apps/good/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String((await getBlob(reg, 'apps/good', digest)).length));
  });

  test('without the option the same upstream is relayed: sigward follows the redirect and checks the bytes', async () => {
    const digest = layerOf(good);
    const r = await rawGet(`${relay.url}/v2/example.test/apps/good/blobs/${digest}`);
    assert.equal(r.status, 200);
    assert.equal(sha256(r.body), digest);
    assert.equal(storageAskedBySigward(relay, front), 1);
    const tampered = await rawGet(`${relay.url}/v2/example.test/apps/bad/blobs/${layerOf(bad)}`);
    assert.ok(tampered.status !== 200 || !tampered.complete, 'relayed tampered bytes never arrive whole');
  });

  test('/sget/ never hands out a redirect: it downloads, verifies, then serves', async () => {
    const digest = layerOf(good);
    const r = await rawGet(`${sw.url}/sget/example.test/apps/good/blobs/${digest}`);
    assert.equal(r.status, 200);
    assert.equal(sha256(r.body), digest);
    assert.ok(storageAskedBySigward(sw, front) > 0, 'sigward itself fetched the bytes from the storage');
    const refused = await rawGet(`${sw.url}/sget/example.test/apps/bad/blobs/${layerOf(bad)}`);
    assert.equal(refused.status, 502);
    assert.match(refused.body.toString(), /hash to sha256:/);
  });

  test('with blobs.serve: referenced, an unlisted blob is refused before any redirect is asked for', async () => {
    const digest = layerOf(good);
    const asked = front.redirects.length;
    const refused = await rawGet(`${referenced.url}/v2/example.test/apps/good/blobs/${digest}`);
    assert.equal(refused.status, 403);
    assert.equal(front.redirects.length, asked, 'the upstream was not asked');
    const m = await rawGet(`${referenced.url}/v2/example.test/apps/good/manifests/v1`, {
      headers: { Accept: good.mediaType },
    });
    assert.equal(m.status, 200);
    const r = await rawGet(`${referenced.url}/v2/example.test/apps/good/blobs/${digest}`);
    assert.equal(r.status, 307);
    assert.equal(front.redirects.length, asked + 1);
  });

  test('skopeo copies an image with its blobs from the storage, and refuses the tampered one', async () => {
    const skopeo = createSkopeo({ sigward: sw.host, prefix: 'example.test' });
    const before = front.storageLog.length;
    const bySigward = storageAskedBySigward(sw, front);
    try {
      const out = tempDir('redirect-skopeo');
      const ok = await skopeo.run(['copy', 'docker://example.test/apps/good:v1', `dir:${join(out, 'good')}`]);
      assert.equal(ok.code, 0, ok.stderr);
      const fetched = front.storageLog.slice(before).map((q) => q.path);
      for (const d of good.blobs.keys()) assert.ok(fetched.includes(`/storage/apps/good/${d}`), d);
      assert.equal(storageAskedBySigward(sw, front), bySigward, 'sigward fetched none of the bytes');
      const refused = await skopeo.run(['copy', 'docker://example.test/apps/bad:v1', `dir:${join(out, 'bad')}`]);
      assert.notEqual(refused.code, 0);
      assert.ok(refused.stderr.includes(`Digest did not match, expected ${layerOf(bad)}`), refused.stderr);
    } finally {
      skopeo.remove();
    }
  });

  describe('ctr', () => {
    let ctd: Containerd;
    before(async () => {
      ctd = await startContainerd();
      ctd.writeHosts(sw.url);
    });
    after(async () => {
      await ctd?.stop();
    });

    test('ctr pulls an image with its blobs from the storage, and refuses the tampered one', async () => {
      const before = front.storageLog.length;
      const ok = await ctd.ctrPull('example.test/apps/good:v1');
      assert.equal(ok.code, 0, ok.stderr);
      const fetched = front.storageLog.slice(before).map((q) => q.path);
      for (const d of good.blobs.keys()) assert.ok(fetched.includes(`/storage/apps/good/${d}`), d);
      const refused = await ctd.ctrPull('example.test/apps/bad:v1');
      assert.notEqual(refused.code, 0);
      assert.ok(
        refused.stderr.includes(`unexpected commit digest sha256:`) &&
          refused.stderr.includes(`expected ${layerOf(bad)}`),
        refused.stderr,
      );
    });
  });

  test('podman pulls an image with its blobs from the storage, and refuses the tampered one', async (t) => {
    if (!(await podmanWorks())) {
      // Not a skip: prove podman really cannot run here, and say why, so the missing coverage is visible.
      const probe = await runCommand('podman', ['--storage-driver', 'vfs', 'info'], { timeoutMs: 30_000 }).catch(
        (e: Error) => ({ code: -1, stdout: '', stderr: e.message }),
      );
      assert.notEqual(probe.code, 0, 'podmanWorks() said no, but podman info succeeded: the probe is wrong');
      t.diagnostic(`podman cannot run on this machine: ${probe.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      return;
    }
    const podman = createPodman({ sigward: sw.host, prefix: 'example.test' });
    const before = front.storageLog.length;
    try {
      const ok = await podman.pull('example.test/apps/good:v1');
      assert.equal(ok.code, 0, ok.stderr);
      const fetched = front.storageLog.slice(before).map((q) => q.path);
      assert.ok(fetched.includes(`/storage/apps/good/${layerOf(good)}`), fetched.join(', '));
      const refused = await podman.pull('example.test/apps/bad:v1');
      assert.notEqual(refused.code, 0);
      assert.ok(refused.stderr.includes(`Digest did not match, expected ${layerOf(bad)}`), refused.stderr);
    } finally {
      podman.remove();
    }
  });
});
