// The body limits (upstream/body-watch.ts): their config (defaults, validation with lines), the minimum rate never
// blaming the upstream for sigward's own backpressure, and the deadline firing on a body nobody reads yet without
// becoming an uncaught exception.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { buffer } from 'node:stream/consumers';
import { Agent } from 'undici';
import { parseConfigText } from '../../src/config/parse.ts';
import { DEFAULT_LIMITS } from '../../src/config/types.ts';
import { isSigwardError } from '../../src/errors.ts';
import { digestOf } from '../../src/oci/digest.ts';
import { UpstreamClient } from '../../src/upstream/client.ts';
import { waitFor } from '../helpers/proc.ts';
import { startFake, type Fake } from '../helpers/fake-upstream.ts';
import { LIMITS, upstreamConfig } from '../helpers/upstream-setup.ts';

const UPSTREAMS = 'upstreams:\n  - host: example.test\n';

describe('limits.bodyDeadline, minBodyRate, bodyRateWindow in the config', () => {
  test('defaults: an hour, 4 KiB/s over 30 s', () => {
    const { config } = parseConfigText(UPSTREAMS);
    assert.ok(config);
    assert.equal(config.limits.bodyDeadlineMs, 3_600_000);
    assert.equal(config.limits.minBodyRate, 4096);
    assert.equal(config.limits.bodyRateWindowMs, 30_000);
    assert.equal(DEFAULT_LIMITS.bodyDeadlineMs, 3_600_000);
  });

  test('set, and 0 turns the rate check off', () => {
    const { config } = parseConfigText(
      `${UPSTREAMS}limits:\n  bodyDeadline: 2h\n  minBodyRate: 0\n  bodyRateWindow: 1m\n`,
    );
    assert.ok(config);
    assert.equal(config.limits.bodyDeadlineMs, 7_200_000);
    assert.equal(config.limits.minBodyRate, 0);
    assert.equal(config.limits.bodyRateWindowMs, 60_000);
  });

  test('bad values are problems with their path and line', () => {
    const r = parseConfigText(`${UPSTREAMS}limits:\n  bodyDeadline: 50ms\n  minBodyRate: fast\n  bodyRateWindow: 2d\n`);
    assert.equal(r.config, undefined);
    const got = r.problems.map((p) => `${p.line}:${p.path}`).sort();
    assert.deepEqual(got, ['4:limits.bodyDeadline', '5:limits.minBodyRate', '6:limits.bodyRateWindow']);
    assert.match(r.problems.find((p) => p.path === 'limits.bodyDeadline')?.message ?? '', /between 100ms/);
  });
});

describe('body limits on a real exchange', () => {
  const blob = Buffer.alloc(4 * 1024 * 1024, 7);
  const digest = digestOf(blob);
  let fake: Fake;
  let agent: Agent;
  const caught: unknown[] = [];
  const trap = (e: unknown): void => void caught.push(e);

  before(async () => {
    process.on('uncaughtException', trap);
    fake = await startFake((_req, res) => {
      res.writeHead(200, { 'content-length': String(blob.length) });
      res.end(blob);
    });
    agent = new Agent();
  });
  after(async () => {
    await agent.close();
    await fake.close();
    process.off('uncaughtException', trap);
  });

  const client = (over: Partial<typeof LIMITS>): UpstreamClient =>
    new UpstreamClient(upstreamConfig(fake.url), { dispatcher: agent, limits: { ...LIMITS, ...over } });

  test('a body sigward holds back (nobody reading) is not too slow: the rate judges only the upstream', async () => {
    const window = 100;
    const b = await client({ minBodyRate: 1024 * 1024, bodyRateWindowMs: window }).getBlob('a/b', digest);
    // The subject of this test is a reader that stays away for several rate windows, so this wait is the scenario
    // itself, not sequencing. Meanwhile the body's buffer is full and undici has paused the socket.
    await sleep(5 * window);
    assert.equal(b.body.destroyed, false, `destroyed: ${String(b.body.errored)}`);
    const got = await buffer(b.body);
    assert.equal(got.length, blob.length);
  });

  test('the deadline ends a body nobody reads yet: the stream is left errored, nothing is uncaught', async () => {
    const b = await client({ bodyDeadlineMs: 100, minBodyRate: 0 }).getBlob('a/b', digest);
    await waitFor(async () => b.body.destroyed, 'the deadline to end the body');
    const err = b.body.errored;
    assert.ok(isSigwardError(err, 'UPSTREAM_TIMEOUT'), String(err));
    assert.match(err.message, /limits\.bodyDeadline \(100ms\)/);
    await assert.rejects(buffer(b.body), (e: unknown) => isSigwardError(e, 'UPSTREAM_TIMEOUT'));
    assert.deepEqual(caught, []);
  });
});

describe('body limits on token answers', () => {
  let tokens: Fake;
  let registry: Fake;
  let agent: Agent;
  before(async () => {
    // A token service that sends its headers, then one byte now and then, forever (until the connection goes).
    tokens = await startFake((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{');
      const t = setInterval(() => res.write(' '), 20);
      res.on('close', () => clearInterval(t));
    });
    registry = await startFake((_req, res) => {
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="${tokens.url}/token",service="s",scope="repository:a/b:pull"`,
        'content-type': 'application/json',
      });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"token needed"}]}');
    });
    agent = new Agent();
  });
  after(async () => {
    await agent.close();
    await tokens.close();
    await registry.close();
  });

  test(
    'a token service that drips is cut by the body deadline, like any upstream body',
    { timeout: 20_000 },
    async () => {
      const c = new UpstreamClient(upstreamConfig(registry.url, { tokenRealms: [tokens.host] }), {
        dispatcher: agent,
        limits: { ...LIMITS, bodyDeadlineMs: 200, minBodyRate: 0 },
      });
      await assert.rejects(
        c.getManifest('a/b', { kind: 'tag', tag: 'v1' }),
        (e: unknown) => isSigwardError(e) && /limits\.bodyDeadline \(200ms\)/.test(e.message),
      );
      assert.equal(tokens.requests.length, 1);
    },
  );
});
