// /readyz: ready with the config's policy hash and generation, the store directory probed by a real write (cached
// for a few seconds), upstream reachability reported from a `GET /v2/` probe and never making it unready; /healthz
// stays "process up".
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { freePort, removeTempDir, tempDir } from '../helpers/proc.ts';
import { STORE_CHECK_MS, UPSTREAM_PROBE_MS, type ReadinessReport } from '../../src/http/readiness.ts';

async function readyz(sw: RunningSigward): Promise<{ status: number; body: ReadinessReport; cache: string | null }> {
  const res = await fetch(`${sw.url}/readyz`);
  return { status: res.status, body: (await res.json()) as ReadinessReport, cache: res.headers.get('cache-control') };
}

describe('/readyz', () => {
  let fake: FakeUpstream;
  let deadPort: number;
  let cacheDir: string;
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const running: RunningSigward[] = [];
  const start = async (dir: string): Promise<RunningSigward> => {
    const sw = await startSigward(
      {
        upstreams: [
          { host: 'example.test', url: fake.url },
          { host: 'down.test', url: `http://127.0.0.1:${deadPort}`, retries: 0 },
        ],
        cache: { dir },
        policy: { default: 'deny' },
      },
      { now: () => clock },
    );
    running.push(sw);
    return sw;
  };

  before(async () => {
    fake = await startFakeUpstream();
    deadPort = await freePort();
    cacheDir = tempDir('sigward-readyz');
  });
  after(async () => {
    for (const sw of running) await sw.stop();
    await fake.stop();
    removeTempDir(cacheDir);
  });

  test('ready: config, writable store; a down upstream is reported failing and the node stays ready', async () => {
    const sw = await start(cacheDir);
    const first = await readyz(sw);
    assert.equal(first.status, 200);
    assert.equal(first.cache, 'no-store');
    assert.equal(first.body.status, 'ready');
    assert.deepEqual(first.body.reasons, []);
    assert.equal(first.body.config?.file, sw.configFile);
    assert.equal(first.body.config?.policyHash, sw.app?.gate.policyHash);
    assert.equal(first.body.config?.generation, 1);
    assert.equal(first.body.store.dir, join(cacheDir, 'sget'));
    assert.equal(first.body.store.writable, true);
    // The probe file is removed again.
    assert.deepEqual(
      readdirSync(join(cacheDir, 'sget')).filter((f) => f.startsWith('.readyz')),
      [],
    );
    // /readyz never waits for an upstream: before the first probe answered, reachability is unknown.
    assert.deepEqual(
      first.body.upstreams.map((u) => [u.host, u.reachability]),
      [
        ['example.test', 'unknown'],
        ['down.test', 'unknown'],
      ],
    );
    await sw.app?.readiness.idle();
    assert.equal(fake.hits('/v2/'), 1);

    const second = await readyz(sw);
    assert.equal(second.status, 200, 'an unreachable upstream never makes /readyz fail');
    const [ok, down] = second.body.upstreams;
    assert.equal(ok?.reachability, 'ok');
    assert.equal(ok?.since, new Date(clock).toISOString());
    assert.equal(down?.host, 'down.test');
    assert.equal(down?.reachability, 'failing');
    assert.equal(down?.errorClass, 'UPSTREAM_UNAVAILABLE');
    assert.equal(down?.errorCode, 'ECONNREFUSED');
    assert.equal(down?.since, new Date(clock).toISOString());
    assert.match(down?.error ?? '', /down\.test/);

    // Probed at most once per UPSTREAM_PROBE_MS, however often /readyz is asked.
    await readyz(sw);
    await sw.app?.readiness.idle();
    assert.equal(fake.hits('/v2/'), 1);
    const since = clock;
    clock += UPSTREAM_PROBE_MS;
    await readyz(sw);
    await sw.app?.readiness.idle();
    assert.equal(fake.hits('/v2/'), 2);
    const later = (await readyz(sw)).body.upstreams[1];
    assert.equal(later?.since, new Date(since).toISOString(), 'failing since the first failure');
    assert.equal(later?.checkedAt, new Date(clock).toISOString());

    const health = await fetch(`${sw.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok');
  });

  test('a store directory that cannot take a write: 503 naming it (cached for a few seconds), healthz still ok', async () => {
    const dir = tempDir('sigward-readyz-store');
    try {
      const sw = await start(dir);
      const store = join(dir, 'sget');
      assert.equal((await readyz(sw)).status, 200);
      // Root ignores permission bits: the store path becomes a file, which no write can go into.
      rmSync(store, { recursive: true, force: true });
      writeFileSync(store, 'not a directory\n');
      assert.equal((await readyz(sw)).status, 200, 'the last check is reused within STORE_CHECK_MS');
      clock += STORE_CHECK_MS;
      const res = await readyz(sw);
      assert.equal(res.status, 503);
      assert.equal(res.body.status, 'not ready');
      assert.equal(res.body.store.writable, false);
      assert.equal(res.body.reasons.length, 1);
      assert.match(res.body.reasons[0] ?? '', new RegExp(`store directory ${store} is not writable: E`));
      assert.equal((await fetch(`${sw.url}/healthz`)).status, 200);
      // Fixed: ready again at the next check.
      rmSync(store);
      clock += STORE_CHECK_MS;
      assert.equal((await readyz(sw)).status, 200);
      assert.ok(existsSync(store));
      await sw.app?.readiness.idle();
    } finally {
      removeTempDir(dir);
    }
  });
});
