// How the gate looks signatures up: a separate signature repository (cosign's COSIGN_REPOSITORY), coalescing of
// concurrent cold requests, and an upstream that fails during the lookup (503, nothing cached, next request fresh).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Agent, request } from 'undici';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { buildImage, pushImage, type TestImage } from '../helpers/images.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { newKey, signBundle, signLegacy } from '../helpers/cosign.ts';
import { listenOnLoopback } from '../helpers/proc.ts';
import { must } from '../helpers/must.ts';

const ACCEPT = 'application/vnd.oci.image.manifest.v1+json';

/** A TCP forwarder to the registry that can be switched off (new connections are reset while down). */
async function startSwitch(target: string): Promise<{ url: string; up: boolean; close(): Promise<void> }> {
  const [host, port] = target.split(':') as [string, string];
  const sockets = new Set<Socket>();
  const sw = { url: '', up: true, close: async () => {} };
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    if (!sw.up) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(Number(port), host);
    client.pipe(upstream).pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
  });
  sw.url = `http://${(await listenOnLoopback(server)).host}`;
  sw.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return sw;
}

async function pull(sw: RunningSigward, repo: string, ref: string, dispatcher?: Agent) {
  const r = await request(`${sw.url}/v2/example.test/${repo}/manifests/${ref}`, {
    headers: { accept: ACCEPT },
    ...(dispatcher ? { dispatcher } : {}),
  });
  const text = await r.body.text();
  return { status: r.statusCode, text };
}

describe('signature lookups', () => {
  let reg: Registry;
  let flaky: Awaited<ReturnType<typeof startSwitch>>;
  const alice = newKey('alice');
  const inSigRepo: TestImage = buildImage({ files: { 'a.txt': 'signatures elsewhere\n' } });
  const hot: TestImage = buildImage({ files: { 'a.txt': 'many clients at once\n' } });
  const config = () => ({
    upstreams: [
      { host: 'example.test', url: reg.url },
      { host: 'sigs.test', url: flaky.url, retries: 0, timeouts: { connect: '2s', headers: '5s', body: '5s' } },
    ],
    trust: { keys: { alice: { pem: alice.publicPem } } },
    policy: {
      policies: [
        {
          name: 'elsewhere',
          match: ['example.test/elsewhere/*'],
          keys: ['alice'],
          signatureRepository: 'sigs.test/signatures/store',
        },
        { name: 'apps', match: ['example.test/apps/*'], keys: ['alice'] },
        { name: 'bundles', match: ['example.test/bundles/*'], keys: ['alice'] },
      ],
    },
  });

  before(async () => {
    reg = await startRegistry();
    flaky = await startSwitch(reg.host);
    await pushImage(reg, 'elsewhere/app', 'v1', inSigRepo);
    await signLegacy(reg, 'elsewhere/app', inSigRepo.digest, {
      keys: [alice],
      signatureRepository: 'signatures/store',
    });
    await pushImage(reg, 'apps/hot', 'v1', hot);
    await signLegacy(reg, 'apps/hot', hot.digest, { keys: [alice] });
  });

  after(async () => {
    await flaky?.close();
    await reg?.stop();
  });

  test('signatures in a separate signature repository verify; none are looked for next to the image', async () => {
    const sw = await startSigward(config());
    try {
      const r = await pull(sw, 'elsewhere/app', 'v1');
      assert.equal(r.status, 200, r.text);
      const sigLookups = sw.upstreamRequests.filter((q) => q.url.includes('.sig'));
      assert.ok(sigLookups.length >= 1);
      assert.ok(
        sigLookups.every((q) => q.url.includes('/signatures/store/')),
        JSON.stringify(sigLookups),
      );
    } finally {
      await sw.stop();
    }
  });

  test('an upstream without the referrers API is asked for it once; later bundles are found by the tag schema alone', async () => {
    const images = [1, 2, 3].map((n) => buildImage({ files: { 'b.txt': `bundle-signed ${n}\n` } }));
    for (const [i, img] of images.entries()) {
      await pushImage(reg, `bundles/app${i}`, 'v1', img);
      await signBundle(reg, `bundles/app${i}`, {
        key: alice,
        subject: { mediaType: img.mediaType, size: img.size, digest: img.digest },
      });
    }
    const sw = await startSigward(config());
    try {
      for (const i of [0, 1, 2]) {
        const r = await pull(sw, `bundles/app${i}`, 'v1');
        assert.equal(r.status, 200, r.text);
      }
      const api = sw.upstreamRequests.filter((q) => q.url.includes('/referrers/'));
      // distribution 2.8 has no referrers API ("404 page not found"): asked for the first image only.
      assert.deepEqual(
        api.map((q) => [q.url.includes('/bundles/app0/'), q.status]),
        [[true, 404]],
      );
      const tagSchema = sw.upstreamRequests.filter((q) => /\/manifests\/sha256-[0-9a-f]{64}$/.test(q.url));
      assert.equal(tagSchema.length, 3, JSON.stringify(tagSchema));
    } finally {
      await sw.stop();
    }
  });

  test('an upstream failing during the signature lookup gives 503, is not cached, and the next request verifies afresh', async () => {
    const sw = await startSigward(config());
    try {
      flaky.up = false;
      const down = await pull(sw, 'elsewhere/app', 'v1');
      assert.equal(down.status, 503, down.text);
      assert.equal(JSON.parse(down.text).errors[0].code, 'UNAVAILABLE');
      assert.match(down.text, /could not look up signatures/);
      flaky.up = true;
      const lookupsBefore = must(sw.app, 'sw.app').gate.lookups;
      const up = await pull(sw, 'elsewhere/app', 'v1');
      assert.equal(up.status, 200, up.text);
      assert.equal(
        must(sw.app, 'sw.app').gate.lookups,
        lookupsBefore + 1,
        'a fresh verification, not a cached failure',
      );
    } finally {
      flaky.up = true;
      await sw.stop();
    }
  });

  test('1000 concurrent cold requests for one digest make exactly one signature lookup', async () => {
    const sw = await startSigward(config());
    const agent = new Agent({ connections: 1000, pipelining: 1 });
    try {
      const results = await Promise.all(Array.from({ length: 1000 }, () => pull(sw, 'apps/hot', hot.digest, agent)));
      assert.deepEqual([...new Set(results.map((r) => r.status))], [200]);
      assert.equal(must(sw.app, 'sw.app').gate.lookups, 1, 'one verification for 1000 requests');
      const sigManifestGets = sw.upstreamRequests.filter((q) => q.url.endsWith('.sig'));
      assert.equal(sigManifestGets.length, 1, JSON.stringify(sigManifestGets.slice(0, 3)));
      const manifestGets = sw.upstreamRequests.filter((q) => q.url.endsWith(`/manifests/${hot.digest}`));
      assert.equal(manifestGets.length, 1, 'the manifest itself was fetched once too');
    } finally {
      await agent.close();
      await sw.stop();
    }
  });

  test('by tag too: the .sig manifest asked early by the first pull is the one lookup every other pull shares', async () => {
    const sw = await startSigward(config());
    const agent = new Agent({ connections: 200, pipelining: 1 });
    try {
      const results = await Promise.all(Array.from({ length: 200 }, () => pull(sw, 'apps/hot', 'v1', agent)));
      assert.deepEqual([...new Set(results.map((r) => r.status))], [200]);
      assert.equal(must(sw.app, 'sw.app').gate.lookups, 1, 'one verification for 200 requests');
      const sigManifestGets = sw.upstreamRequests.filter((q) => q.url.endsWith('.sig'));
      assert.equal(sigManifestGets.length, 1, JSON.stringify(sigManifestGets.slice(0, 3)));
      // The memory share the early ask held is given back with the lookup.
      assert.equal(must(sw.app, 'sw.app').gate.memory.inUse, 0);
      // Pulled again: the verdict is cached, nothing is asked early.
      assert.equal((await pull(sw, 'apps/hot', 'v1', agent)).status, 200);
      assert.equal(sw.upstreamRequests.filter((q) => q.url.endsWith('.sig')).length, 1);
    } finally {
      await agent.close();
      await sw.stop();
    }
  });
});
