// What a reload must not rebuild: two app generations made from one set of shared parts (as cli/serve.ts makes them)
// hold one signature-memory budget, one memory of `.sig`-signed repositories, one set of blobs being copied into the
// store, and the same client (connection pool, bearer tokens) for an upstream whose settings did not change. A real
// distribution registry; a fake upstream only to hold a blob body half-sent (fault injection).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createAdaptorServer } from '@hono/node-server';
import { stringify } from 'yaml';
import { createApp, createShared, type SharedParts, type SigwardApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { buildImage, pushImage } from '../helpers/images.ts';
import { layerOf } from '../helpers/image-parts.ts';
import { rawGet } from '../helpers/raw-http.ts';
import { listenOnLoopback, removeTempDir, tempDir, waitFor } from '../helpers/proc.ts';
import { sha256, startFake, type Fake } from '../helpers/fake-upstream.ts';
import { newKey, signLegacy } from '../helpers/cosign.ts';

interface Served {
  readonly app: SigwardApp;
  readonly url: string;
  stop(): Promise<void>;
}

async function serve(app: SigwardApp): Promise<Served> {
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  const { host } = await listenOnLoopback(server);
  return {
    app,
    url: `http://${host}`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A logger whose lines are kept in memory. */
function capturedLog(): { lines: string[]; logger: Logger } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, logger: createLogger('info', sink) };
}

describe('a reload shares what is process-wide', () => {
  let reg: Registry;
  let other: Registry;
  const dir = tempDir('reload-shared');
  const file = join(dir, 'sigward.yaml');
  const image = buildImage({ files: { 'a.txt': 'shared parts' } });
  const { logger } = capturedLog();
  const config = (otherTimeout: string) => ({
    upstreams: [
      { host: 'a.test', url: reg.url, default: true },
      { host: 'b.test', url: other.url, timeouts: { headers: otherTimeout } },
    ],
    policy: { default: 'allow' },
    cache: { dir: join(dir, 'cache') },
  });
  const load = (c: object) => {
    writeFileSync(file, stringify(c));
    return loadConfig(file, {});
  };

  before(async () => {
    reg = await startRegistry();
    other = await startRegistry();
    await pushImage(reg, 'apps/app', 'v1', image);
  });
  after(async () => {
    await other?.stop();
    await reg?.stop();
    removeTempDir(dir);
  });

  test('an unchanged upstream keeps its client; the signature budget is one per process', async () => {
    const shared: SharedParts = createShared(load(config('30s')), { logger });
    const first = await serve(createApp(load(config('30s')), { logger }, shared));
    const pulled = await rawGet(`${first.url}/v2/a.test/apps/app/manifests/v1`);
    assert.equal(pulled.status, 200);
    // The reload changes only b.test's settings.
    const second = await serve(createApp(load(config('45s')), { logger }, shared));
    // (assert.ok on identities: a failing deepEqual of two clients would print their whole connection pools)
    assert.ok(second.app.clients.get('a.test') === first.app.clients.get('a.test'), 'a.test: the same client');
    assert.ok(second.app.clients.get('b.test') !== first.app.clients.get('b.test'), 'b.test: a new client');
    assert.ok(second.app.gate.memory === first.app.gate.memory, 'one signature-memory budget');
    assert.equal(second.app.gate.memory.capacity, shared.signatureMemory.capacity);
    assert.equal(shared.upstreams.size.agents, 1, 'one direct Agent: the origins and their settings are the same');
    // The old generation closes: the new one still reaches the upstream through the pool they shared.
    await first.stop();
    await first.app.close();
    const again = await rawGet(`${second.url}/v2/a.test/apps/app/blobs/${layerOf(image)}`);
    assert.equal(again.status, 200);
    assert.equal(sha256(again.body), layerOf(image));
    await second.stop();
    await second.app.close();
    assert.deepEqual(shared.upstreams.size, { agents: 0, clients: 0 }, 'the last generation closed them');
    await shared.close();
  });
});

describe('a reload shares the blobs being copied into the store', () => {
  let fake: Fake;
  const dir = tempDir('reload-shared-fill');
  const file = join(dir, 'sigward.yaml');
  const blob = randomBytes(512 * 1024);
  const digest = sha256(blob);
  const { lines, logger } = capturedLog();
  let releaseFirst: () => void = () => undefined;
  const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
  let asked = 0;

  before(async () => {
    // The first GET of the blob sends half, then waits; later ones are answered whole at once.
    fake = await startFake(async (req, res) => {
      if (!(req.url ?? '').includes('/blobs/')) {
        res.writeHead(404).end();
        return;
      }
      const n = ++asked;
      res.writeHead(200, {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(blob.length),
        'Docker-Content-Digest': digest,
      });
      if (n > 1) {
        res.end(blob);
        return;
      }
      res.write(blob.subarray(0, blob.length / 2));
      await firstHeld;
      res.end(blob.subarray(blob.length / 2));
    });
  });
  after(async () => {
    await fake?.close();
    removeTempDir(dir);
  });

  test('a digest copied by the old generation is relayed without a second copy by the new one', async () => {
    writeFileSync(
      file,
      stringify({
        upstreams: [{ host: 'f.test', url: fake.url, blobs: 'cache', allowPrivateNetworks: true }],
        policy: { default: 'allow' },
        cache: { dir: join(dir, 'cache') },
      }),
    );
    const shared = createShared(loadConfig(file, {}), { logger });
    const first = await serve(createApp(loadConfig(file, {}), { logger }, shared));
    const second = await serve(createApp(loadConfig(file, {}), { logger }, shared));
    const tmp = join(dir, 'cache', 'sget', 'tmp');
    const held = rawGet(`${first.url}/v2/f.test/x/blobs/${digest}`);
    await waitFor(async () => Promise.resolve(readdirSync(tmp).length === 1), 'the first copy to start');
    const whole = await rawGet(`${second.url}/v2/f.test/x/blobs/${digest}`);
    assert.equal(whole.status, 200);
    assert.equal(sha256(whole.body), digest);
    releaseFirst();
    const done = await held;
    assert.equal(done.status, 200);
    assert.equal(sha256(done.body), digest);
    const kept = (): number =>
      lines.filter((l) => l.includes(digest) && /blob cache: (blob verified and stored|the verified copy)/.test(l))
        .length;
    await waitFor(
      async () => Promise.resolve(shared.store.has(digest as never) && readdirSync(tmp).length === 0 && kept() > 0),
      'the copy to be kept',
    );
    await shared.store.flush();
    assert.equal(kept(), 1, 'one copy written and kept, by the generation that started it');
    assert.equal(asked, 2);
    for (const s of [first, second]) {
      await s.stop();
      await s.app.close();
    }
    await shared.close();
  });
});

describe('a reload keeps what the gate learned about `.sig`-signed repositories', () => {
  let reg: Registry;
  const dir = tempDir('reload-shared-legacy');
  const file = join(dir, 'sigward.yaml');
  const alice = newKey('alice');
  let digestB = '';
  const seen: string[] = [];
  const onUpstreamRequest = (info: { method: string; url: string }): void => void seen.push(info.url);

  before(async () => {
    reg = await startRegistry();
    const a = await pushImage(reg, 'apps/app', 'v1', buildImage({ files: { 'a.txt': 'first' } }));
    digestB = await pushImage(reg, 'apps/app', 'v2', buildImage({ files: { 'b.txt': 'second' } }));
    await signLegacy(reg, 'apps/app', a, { keys: [alice] });
    await signLegacy(reg, 'apps/app', digestB, { keys: [alice] });
    writeFileSync(join(dir, 'alice.pub'), alice.publicPem);
    writeFileSync(
      file,
      stringify({
        upstreams: [{ host: 'example.test', url: reg.url, default: true }],
        trust: { keys: { alice: { file: join(dir, 'alice.pub') } } },
        policy: { default: 'deny', policies: [{ name: 'apps', match: ['example.test/apps/*'], keys: ['alice'] }] },
        cache: { dir: join(dir, 'cache') },
      }),
    );
  });
  after(async () => {
    await reg?.stop();
    removeTempDir(dir);
  });

  test('the next generation asks a repository decided on its .sig signatures for them first, and only for them', async () => {
    const { logger } = capturedLog();
    const shared = createShared(loadConfig(file, {}), { logger });
    const first = await serve(createApp(loadConfig(file, {}), { logger, onUpstreamRequest }, shared));
    assert.equal((await rawGet(`${first.url}/v2/example.test/apps/app/manifests/v1`)).status, 200);
    const second = await serve(createApp(loadConfig(file, {}), { logger, onUpstreamRequest }, shared));
    seen.length = 0;
    assert.equal((await rawGet(`${second.url}/v2/example.test/apps/app/manifests/v2`)).status, 200);
    const hex = digestB.slice('sha256:'.length);
    assert.ok(
      seen.some((u) => u.endsWith(`/manifests/sha256-${hex}.sig`)),
      seen.join('\n'),
    );
    assert.deepEqual(
      seen.filter((u) => u.includes('/referrers/') || u.endsWith(`/manifests/sha256-${hex}`)),
      [],
      'no bundle lookup: the .sig signatures met the policy, as the first generation learned',
    );
    for (const s of [first, second]) {
      await s.stop();
      await s.app.close();
    }
    await shared.close();
  });
});
