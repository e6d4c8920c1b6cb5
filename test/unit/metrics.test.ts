// The metrics object on its own (src/metrics/): the route label of request paths, the configuration and reload
// series the reload path sets, fail-static answers, upstream failure classes, signature lookup results, cache
// observers, the sget store gauges; and the `metrics` config section.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SigwardError } from '../../src/errors.ts';
import { SigwardMetrics } from '../../src/metrics/metrics.ts';
import { routeOf } from '../../src/metrics/route.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import { parseExposition, valueOf, type Exposition } from '../helpers/prom-text.ts';
import { must } from '../helpers/must.ts';

const read = async (m: SigwardMetrics): Promise<Exposition> => parseExposition((await m.text()).body);

describe('route label', () => {
  const cases: [string, string][] = [
    ['/v2/', 'v2'],
    ['/v2', 'v2'],
    ['/v2/library/alpine/manifests/3.20', 'manifest'],
    ['/v2/example.test/a/b/manifests/sha256:' + 'a'.repeat(64) + '?ns=docker.io', 'manifest'],
    // A repository named like the API's segments: only the last ones count.
    ['/v2/manifests/blobs/tags/list', 'tags'],
    ['/v2/blobs/manifests/x/blobs/sha256:' + 'b'.repeat(64), 'blob'],
    ['/v2/a/blobs/uploads', 'other'],
    ['/v2/a/blobs/uploads/', 'other'],
    ['/v2/a/referrers/sha256:' + 'c'.repeat(64), 'referrers'],
    ['/v2/a/b', 'other'],
    ['/sget/example.test/a:v1', 'sget'],
    ['/healthz', 'healthz'],
    ['/readyz?verbose=1', 'readyz'],
    ['/metrics', 'metrics'],
    ['/metricsx', 'other'],
    ['/', 'other'],
    ['', 'other'],
  ];
  for (const [path, route] of cases) {
    test(`${path || '(empty)'} -> ${route}`, () => assert.equal(routeOf(path), route));
  }
});

describe('SigwardMetrics', () => {
  test('config generation and reloads: the series the reload path sets', async () => {
    let now = 1_700_000_000_000;
    const m = new SigwardMetrics({ now: () => now });
    let e = await read(m);
    assert.equal(valueOf(e, 'sigward_config_reloads_total', { result: 'success' }), 0);
    assert.equal(e.samples.filter((s) => s.name === 'sigward_config_reloads_total').length, 2, 'both exist at 0');
    m.configLoaded(1);
    e = await read(m);
    assert.equal(valueOf(e, 'sigward_config_generation'), 1);
    assert.equal(valueOf(e, 'sigward_config_last_reload_success'), 1);
    assert.equal(valueOf(e, 'sigward_config_last_reload_success_timestamp_seconds'), 1_700_000_000);
    now += 60_000;
    m.reloadResult(false);
    e = await read(m);
    assert.equal(valueOf(e, 'sigward_config_reloads_total', { result: 'failure' }), 1);
    assert.equal(valueOf(e, 'sigward_config_last_reload_success'), 0);
    assert.equal(valueOf(e, 'sigward_config_last_reload_success_timestamp_seconds'), 1_700_000_000, 'unchanged');
    assert.equal(valueOf(e, 'sigward_config_generation'), 1);
    now += 60_000;
    m.configLoaded(2);
    m.reloadResult(true);
    e = await read(m);
    assert.equal(valueOf(e, 'sigward_config_reloads_total', { result: 'success' }), 1);
    assert.equal(valueOf(e, 'sigward_config_reloads_total', { result: 'failure' }), 1);
    assert.equal(valueOf(e, 'sigward_config_generation'), 2);
    assert.equal(valueOf(e, 'sigward_config_last_reload_success'), 1);
    assert.equal(valueOf(e, 'sigward_config_last_reload_success_timestamp_seconds'), 1_700_000_120);
    // A refreshed TUF root that changed the policy: a new generation, no reload.
    now += 60_000;
    m.policyRefreshed(3);
    e = await read(m);
    assert.equal(valueOf(e, 'sigward_config_generation'), 3);
    assert.equal(valueOf(e, 'sigward_config_reloads_total', { result: 'success' }), 1);
    assert.equal(valueOf(e, 'sigward_config_last_reload_success_timestamp_seconds'), 1_700_000_120);
  });

  test('fail-static answers by upstream', async () => {
    const m = new SigwardMetrics();
    m.failStaticServed('ghcr.io');
    m.failStaticServed('ghcr.io');
    m.failStaticServed('quay.io');
    const e = await read(m);
    assert.equal(valueOf(e, 'sigward_fail_static_served_total', { upstream: 'ghcr.io' }), 2);
    assert.equal(valueOf(e, 'sigward_fail_static_served_total', { upstream: 'quay.io' }), 1);
  });

  test('upstream failures: counted once per error, by class; answers and own aborts not counted', async () => {
    const m = new SigwardMetrics();
    const u = m.upstream('ghcr.io');
    assert.equal(m.upstream('ghcr.io'), u, 'one observer per host');
    const timeout = new SigwardError('UPSTREAM_TIMEOUT', 'timed out');
    for (const e of [
      timeout,
      timeout, // the same failure seen again on its way out: not counted twice
      new SigwardError('UPSTREAM_TIMEOUT', 'timed out again'),
      new SigwardError('UPSTREAM_SOMETHING_NEW' as never, 'new'),
      new SigwardError('MANIFEST_UNKNOWN', '404', { detail: { status: 404 } }),
      new SigwardError('RANGE_INVALID', '416', { detail: { status: 416 } }),
      Object.assign(new Error('aborted'), { code: 'UND_ERR_ABORTED' }),
      // The same abort as the upstream layer wraps it when a body was given up (sigward's own doing, not counted).
      new SigwardError('UPSTREAM_UNAVAILABLE', 'body given up', { detail: { errorCode: 'UND_ERR_ABORTED' } }),
    ])
      u.failed(e);
    u.responded(performance.now());
    const e = await read(m);
    const byClass = Object.fromEntries(
      e.samples.filter((s) => s.name === 'sigward_upstream_errors_total').map((s) => [s.labels.class, s.value]),
    );
    assert.deepEqual(byClass, { timeout: 2, other: 1 });
    assert.equal(valueOf(e, 'sigward_upstream_request_duration_seconds_count', { upstream: 'ghcr.io' }), 1);
  });

  test('signature lookups: found, none, failed (the error goes on)', async () => {
    const m = new SigwardMetrics();
    const found = { signatures: [1], unreadable: [] };
    assert.equal(await m.signatureLookup(Promise.resolve(found)), found);
    await m.signatureLookup(Promise.resolve({ signatures: [], unreadable: [{}] }));
    await m.signatureLookup(Promise.resolve({ signatures: [], unreadable: [] }));
    const boom = new Error('upstream down');
    await assert.rejects(m.signatureLookup(Promise.reject(boom)), (e) => e === boom);
    const e = await read(m);
    assert.equal(valueOf(e, 'sigward_signature_lookups_total', { result: 'found' }), 2, 'an unreadable one counts');
    assert.equal(valueOf(e, 'sigward_signature_lookups_total', { result: 'none' }), 1);
    assert.equal(valueOf(e, 'sigward_signature_lookups_total', { result: 'failed' }), 1);
  });

  test('decisions: fresh ones are timed, cached ones only counted', async () => {
    const m = new SigwardMetrics();
    m.decision('prod', 'verified', false, 250);
    m.decision('prod', 'verified', true, 0);
    m.decision('prod', 'no-signatures', false, 5);
    m.decision('(default)', 'default-allow', true, 0);
    const e = await read(m);
    const d = (policy: string, outcome: string, cached: string) =>
      valueOf(e, 'sigward_verification_decisions_total', { policy, outcome, cached });
    assert.equal(d('prod', 'verified', 'false'), 1);
    assert.equal(d('prod', 'verified', 'true'), 1);
    assert.equal(d('prod', 'no-signatures', 'false'), 1);
    assert.equal(d('(default)', 'default-allow', 'true'), 1);
    assert.equal(valueOf(e, 'sigward_verification_duration_seconds_count', { policy: 'prod' }), 2);
    assert.equal(valueOf(e, 'sigward_verification_duration_seconds_sum', { policy: 'prod' }), 0.255);
    assert.equal(valueOf(e, 'sigward_verification_duration_seconds_bucket', { policy: 'prod', le: '0.1' }), 1);
    assert.equal(valueOf(e, 'sigward_verification_duration_seconds_count', { policy: '(default)' }), 0);
  });

  test('caches: one observer per name, hits, misses and evictions apart', async () => {
    const m = new SigwardMetrics();
    const v = m.cache('verdicts');
    assert.equal(m.cache('verdicts'), v);
    v.hit();
    v.hit();
    v.miss();
    m.cache('tokens').evicted();
    const e = await read(m);
    assert.equal(valueOf(e, 'sigward_cache_hits_total', { cache: 'verdicts' }), 2);
    assert.equal(valueOf(e, 'sigward_cache_misses_total', { cache: 'verdicts' }), 1);
    assert.equal(valueOf(e, 'sigward_cache_evictions_total', { cache: 'verdicts' }), 0);
    assert.equal(valueOf(e, 'sigward_cache_evictions_total', { cache: 'tokens' }), 1);
  });

  test('the sget store gauges read the latest store handed over, when scraped', async () => {
    const m = new SigwardMetrics();
    let files = 3;
    m.sgetStore(() => ({ files: 1, bytes: 10, capacity: 100 }));
    m.sgetStore(() => ({ files, bytes: 30, capacity: 1000 }));
    let e = await read(m);
    assert.equal(valueOf(e, 'sigward_sget_store_files'), 3);
    assert.equal(valueOf(e, 'sigward_sget_store_bytes'), 30);
    assert.equal(valueOf(e, 'sigward_sget_store_capacity_bytes'), 1000);
    files = 4;
    e = await read(m);
    assert.equal(valueOf(e, 'sigward_sget_store_files'), 4);
  });

  test('two objects keep apart registries', async () => {
    const a = new SigwardMetrics();
    const b = new SigwardMetrics();
    a.failStaticServed('ghcr.io');
    assert.equal(valueOf(await read(b), 'sigward_fail_static_served_total', { upstream: 'ghcr.io' }), 0);
    assert.equal(valueOf(await read(a), 'sigward_fail_static_served_total', { upstream: 'ghcr.io' }), 1);
  });
});

describe('the metrics config section', () => {
  const parse = (metrics: string) =>
    parseConfigText(`upstreams: [{host: ghcr.io}]\nlisten: 127.0.0.1:5050\n${metrics}`);

  test('absent: off', () => {
    const { config, problems } = parse('');
    assert.deepEqual(problems, []);
    assert.equal(must(config, 'config').metrics, undefined);
  });

  test('off, main, or an address of its own', () => {
    for (const [text, want] of [
      ['metrics: {listen: off}', 'off'],
      ['metrics: {listen: main}', 'main'],
      ['metrics: {listen: "127.0.0.1:9464"}', { host: '127.0.0.1', port: 9464 }],
      ['metrics: {listen: "[::1]:9464"}', { host: '::1', port: 9464 }],
    ] as const) {
      const { config, problems } = parse(text);
      assert.deepEqual(problems, [], text);
      assert.deepEqual(must(config, text).metrics, { listen: want }, text);
    }
  });

  test('what is refused names metrics.listen, its line and the fix', () => {
    for (const [text, message] of [
      ['metrics: {listen: everywhere}', /must be HOST:PORT/],
      ['metrics: {listen: "127.0.0.1:5050"}', /is the proxy listen address; write `main`/],
      ['metrics: {}', /is required: off, main \(the proxy listener\) or HOST:PORT/],
      ['metrics: {listen: 9464}', /must be a string/],
    ] as const) {
      const { config, problems } = parse(text);
      assert.equal(config, undefined, text);
      assert.deepEqual(
        problems.map((p) => [p.path, p.line]),
        [['metrics.listen', 3]],
        text,
      );
      assert.match(problems[0]?.message ?? '', message, text);
    }
    const unknown = parse('metrics:\n  listen: main\n  path: /m');
    assert.deepEqual(
      unknown.problems.map((p) => p.path),
      ['metrics.path'],
    );
  });
});
