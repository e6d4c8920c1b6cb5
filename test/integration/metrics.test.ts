// /metrics against a REAL distribution registry: a signed pull by skopeo, a refused unsigned pull, a blob pull and
// an sget download each move their own series by the amount they should; the exposition is well-formed Prometheus
// text with bounded labels (no repository, tag or digest); the off switch and the separate listen address; one
// metrics object shared by two app generations keeps counting.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server as NetServer } from 'node:net';
import { request } from 'undici';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import {
  OCI_INDEX,
  OCI_MANIFEST,
  buildImage,
  pushBlob,
  pushImage,
  pushManifest,
  sha256,
  type TestImage,
} from '../helpers/images.ts';
import { startSigward, type ConfigInput, type RunningSigward } from '../helpers/sigward.ts';
import { newKey, signLegacy } from '../helpers/cosign.ts';
import { createSkopeo } from '../helpers/skopeo.ts';
import { listenOnLoopback, removeTempDir, tempDir, waitFor } from '../helpers/proc.ts';
import { familyOf, parseExposition, valueOf, type Exposition } from '../helpers/prom-text.ts';
import { must } from '../helpers/must.ts';
import { SigwardMetrics } from '../../src/metrics/metrics.ts';
import { ROUTES } from '../../src/metrics/route.ts';
import { listenMetrics } from '../../src/http/metrics.ts';
import { spawnServe, type ServeChild } from '../helpers/serve-child.ts';
import { startFake, type Fake } from '../helpers/fake-upstream.ts';

async function get(url: string, method: 'GET' | 'HEAD' | 'POST' = 'GET') {
  const r = await request(url, { method, headers: { accept: `${OCI_MANIFEST}, ${OCI_INDEX}` } });
  const body = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, headers: r.headers, body, text: body.toString() };
}

/** Resolves with the first match of `re` in the child's stderr (read as it arrives); rejects if the child exits. */
function stderrMatch(c: ServeChild, re: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const m = re.exec(c.stderr());
      if (m === null) return;
      c.child.stderr.off('data', check);
      resolve(m);
    };
    c.child.stderr.on('data', check);
    void c.exited.then((code) => reject(new Error(`sigward exited (${String(code)}): ${c.stderr()}`)));
    check();
  });
}

async function scrape(url: string): Promise<Exposition> {
  const r = await get(url);
  assert.equal(r.status, 200, r.text);
  assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return parseExposition(r.text);
}

const FILE = Buffer.from('#!/bin/sh\necho tool\n');
const EMPTY = Buffer.from('{}');
/** The blob a client asks liar.test for, and the bytes it gets instead. */
const TRUTH = Buffer.from('the blob asked for\n');
const LIE = Buffer.from('other bytes, same length!\n');
const TOOL = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: 'application/vnd.sigward.test.file',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(EMPTY), size: EMPTY.length },
    layers: [
      {
        mediaType: 'application/x-sh',
        digest: sha256(FILE),
        size: FILE.length,
        annotations: { 'org.opencontainers.image.title': 'tool.sh' },
      },
    ],
  }),
);

const blobBytes = (i: TestImage): number =>
  [...i.blobs.values()].reduce((n, b) => n + (b instanceof Uint8Array ? b.length : b.size), 0);

describe('metrics against distribution', () => {
  let reg: Registry;
  let sw: RunningSigward;
  let closed: NetServer;
  let closedPort = 0;
  /** An upstream that lies about blobs (fault injection): every blob GET gets bytes of another digest. */
  let liar: Fake;
  const alice = newKey('alice');
  let signed: TestImage;
  let unsigned: TestImage;
  /** Each sigward gets its own cache directory (the sget store and kept state have one owner each). */
  const dirs: string[] = [];
  const freshDir = (): string => {
    const d = tempDir('metrics-cache');
    dirs.push(d);
    return d;
  };
  const config = (metrics?: Record<string, unknown>): ConfigInput => ({
    upstreams: [
      { host: 'example.test', url: reg.url },
      // Nothing listens there: every request to it fails at connect.
      { host: 'down.test', url: `http://127.0.0.1:${closedPort}`, retries: 0 },
      { host: 'liar.test', url: liar.url, allowPrivateNetworks: true },
    ],
    trust: { keys: { alice: { pem: alice.publicPem } } },
    policy: {
      default: 'deny',
      policies: [
        { name: 'images', match: ['example.test/apps/*', 'down.test/apps/*'], keys: ['alice'] },
        { name: 'downloads', match: ['example.test/tools/*'], keys: ['alice'] },
      ],
    },
    cache: { dir: freshDir() },
    ...(metrics ? { metrics } : {}),
  });

  before(async () => {
    reg = await startRegistry();
    liar = await startFake((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(LIE.length) });
      res.end(LIE);
    });
    closed = createServer((s) => s.destroy());
    closedPort = (await listenOnLoopback(closed)).port;
    await new Promise<void>((r) => closed.close(() => r()));
    signed = buildImage({ files: { 'a.txt': 'signed for metrics\n' } });
    unsigned = buildImage({ files: { 'a.txt': 'unsigned for metrics\n' } });
    await pushImage(reg, 'apps/signed', 'v1', signed);
    await signLegacy(reg, 'apps/signed', signed.digest, { keys: [alice] });
    await pushImage(reg, 'apps/unsigned', 'v1', unsigned);
    await pushBlob(reg, 'tools/tool', EMPTY);
    await pushBlob(reg, 'tools/tool', FILE);
    await pushManifest(reg, 'tools/tool', 'v1', TOOL, OCI_MANIFEST);
    await signLegacy(reg, 'tools/tool', sha256(TOOL), { keys: [alice] });
    sw = await startSigward(config({ listen: 'main' }));
  });

  after(async () => {
    await sw?.stop();
    await reg?.stop();
    await liar?.close();
    for (const d of dirs) removeTempDir(d);
  });

  const metricsUrl = (): string => `${sw.url}/metrics`;

  test('a signed pull by skopeo: a fresh verification, a found lookup, the blob bytes, upstream timings', async () => {
    const before = await scrape(metricsUrl());
    const skopeo = createSkopeo({ sigward: sw.host, prefix: 'example.test' });
    const out = tempDir('metrics-pull');
    try {
      const r = await skopeo.run(['copy', 'docker://example.test/apps/signed:v1', `dir:${out}/signed`]);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      skopeo.remove();
      removeTempDir(out);
    }
    const after = await scrape(metricsUrl());
    const delta = (name: string, labels: Record<string, string> = {}): number =>
      valueOf(after, name, labels) - valueOf(before, name, labels);
    const fresh = { policy: 'images', outcome: 'verified', cached: 'false' };
    assert.equal(delta('sigward_verification_decisions_total', fresh), 1);
    assert.equal(delta('sigward_verification_duration_seconds_count', { policy: 'images' }), 1);
    assert.ok(delta('sigward_verification_duration_seconds_sum', { policy: 'images' }) > 0);
    assert.equal(delta('sigward_signature_lookups_total', { result: 'found' }), 1);
    assert.equal(delta('sigward_signature_lookups_total', { result: 'none' }), 0);
    assert.ok(delta('sigward_http_requests_total', { route: 'manifest', status: '200' }) >= 1);
    assert.equal(
      delta('sigward_http_requests_total', { route: 'blob', status: '200' }),
      signed.blobs.size,
      'one GET per blob',
    );
    assert.equal(delta('sigward_served_bytes_total', { route: 'blob' }), blobBytes(signed));
    assert.equal(delta('sigward_served_bytes_total', { route: 'sget' }), 0);
    assert.ok(delta('sigward_upstream_request_duration_seconds_count', { upstream: 'example.test' }) >= 3);
    assert.equal(delta('sigward_verification_decisions_total', { ...fresh, cached: 'true' }), 0);
    assert.ok(delta('sigward_cache_misses_total', { cache: 'verdicts' }) >= 1);

    // The same manifest again: a stored verdict, no new lookup.
    const again = await get(`${sw.url}/v2/example.test/apps/signed/manifests/${signed.digest}`);
    assert.equal(again.status, 200, again.text);
    const third = await scrape(metricsUrl());
    assert.equal(
      valueOf(third, 'sigward_verification_decisions_total', { ...fresh, cached: 'true' }) -
        valueOf(after, 'sigward_verification_decisions_total', { ...fresh, cached: 'true' }),
      1,
    );
    assert.equal(
      valueOf(third, 'sigward_cache_hits_total', { cache: 'verdicts' }) -
        valueOf(after, 'sigward_cache_hits_total', { cache: 'verdicts' }),
      1,
    );
    assert.equal(
      valueOf(third, 'sigward_cache_hits_total', { cache: 'manifests' }) -
        valueOf(after, 'sigward_cache_hits_total', { cache: 'manifests' }),
      1,
      'the manifest by digest came from memory',
    );
    assert.equal(
      valueOf(third, 'sigward_signature_lookups_total', { result: 'found' }),
      valueOf(after, 'sigward_signature_lookups_total', { result: 'found' }),
    );
  });

  test('an unsigned pull refused: a 403 manifest, a no-signatures decision, a lookup that found none', async () => {
    const before = await scrape(metricsUrl());
    const r = await get(`${sw.url}/v2/example.test/apps/unsigned/manifests/v1`);
    assert.equal(r.status, 403, r.text);
    const after = await scrape(metricsUrl());
    const delta = (name: string, labels: Record<string, string>): number =>
      valueOf(after, name, labels) - valueOf(before, name, labels);
    assert.equal(delta('sigward_http_requests_total', { route: 'manifest', status: '403' }), 1);
    assert.equal(
      delta('sigward_verification_decisions_total', { policy: 'images', outcome: 'no-signatures', cached: 'false' }),
      1,
    );
    assert.equal(delta('sigward_signature_lookups_total', { result: 'none' }), 1);
    assert.equal(
      delta('sigward_verification_decisions_total', { policy: 'images', outcome: 'verified', cached: 'false' }),
      0,
    );
  });

  test('a blob pulled by digest: its exact size in bytes served, a HEAD adds nothing', async () => {
    // Big enough to be relayed in many chunks, not only as the held last one.
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const digest = sha256(data);
    await pushBlob(reg, 'apps/signed', data);
    const size = data.length;
    const before = await scrape(metricsUrl());
    const r = await get(`${sw.url}/v2/example.test/apps/signed/blobs/${digest}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.length, size);
    assert.equal((await get(`${sw.url}/v2/example.test/apps/signed/blobs/${digest}`, 'HEAD')).status, 200);
    const after = await scrape(metricsUrl());
    assert.equal(
      valueOf(after, 'sigward_served_bytes_total', { route: 'blob' }) -
        valueOf(before, 'sigward_served_bytes_total', { route: 'blob' }),
      size,
    );
    assert.equal(
      valueOf(after, 'sigward_http_requests_total', { route: 'blob', status: '200' }) -
        valueOf(before, 'sigward_http_requests_total', { route: 'blob', status: '200' }),
      2,
    );
  });

  test('an sget download: the file bytes served, the store holding it', async () => {
    const before = await scrape(metricsUrl());
    const r = await get(`${sw.url}/sget/example.test/tools/tool:v1`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, FILE);
    const after = await scrape(metricsUrl());
    assert.equal(
      valueOf(after, 'sigward_served_bytes_total', { route: 'sget' }) -
        valueOf(before, 'sigward_served_bytes_total', { route: 'sget' }),
      FILE.length,
    );
    assert.equal(
      valueOf(after, 'sigward_http_requests_total', { route: 'sget', status: '200' }) -
        valueOf(before, 'sigward_http_requests_total', { route: 'sget', status: '200' }),
      1,
    );
    assert.equal(
      valueOf(after, 'sigward_verification_decisions_total', {
        policy: 'downloads',
        outcome: 'verified',
        cached: 'false',
      }),
      1,
    );
    assert.equal(valueOf(after, 'sigward_sget_store_files'), 1);
    assert.equal(valueOf(after, 'sigward_sget_store_bytes'), FILE.length);
    assert.ok(valueOf(after, 'sigward_sget_store_capacity_bytes') > FILE.length);
  });

  test('an unreachable upstream: its errors by class, under its configured host', async () => {
    const before = await scrape(metricsUrl());
    const r = await get(`${sw.url}/v2/down.test/apps/x/manifests/v1`);
    assert.equal(r.status, 503, r.text);
    const after = await scrape(metricsUrl());
    assert.equal(
      valueOf(after, 'sigward_upstream_errors_total', { upstream: 'down.test', class: 'connect_refused' }) -
        valueOf(before, 'sigward_upstream_errors_total', { upstream: 'down.test', class: 'connect_refused' }),
      1,
    );
    assert.equal(
      valueOf(after, 'sigward_upstream_errors_total', { upstream: 'example.test', class: 'connect_refused' }),
      0,
    );
  });

  test('a relayed blob whose bytes do not match its digest: digest_mismatch under that upstream, nothing served', async () => {
    const mismatch = { upstream: 'liar.test', class: 'digest_mismatch' };
    const before = await scrape(metricsUrl());
    const r = await get(`${sw.url}/v2/liar.test/apps/x/blobs/${sha256(TRUTH)}`);
    assert.equal(r.status, 502, r.text);
    assert.equal((JSON.parse(r.text) as { errors: { code: string }[] }).errors[0]?.code, 'DIGEST_INVALID', r.text);
    assert.ok(!r.text.includes(LIE.toString()), 'the lying bytes are not served');
    const after = await scrape(metricsUrl());
    assert.equal(
      valueOf(after, 'sigward_upstream_errors_total', mismatch) -
        valueOf(before, 'sigward_upstream_errors_total', mismatch),
      1,
    );
  });

  test('the exposition: HELP and TYPE for every family, _total counters, only bounded label values', async () => {
    // Something on every route first, so their series exist.
    for (const path of ['/v2/', '/healthz', '/readyz', '/nope', '/v2/example.test/apps/signed/tags/list'])
      await get(`${sw.url}${path}`);
    const e = await scrape(metricsUrl());
    assert.ok(e.samples.length > 50);
    const names = new Set(e.samples.map((s) => s.name));
    for (const name of names) {
      const family = familyOf(e, name);
      assert.ok(family !== undefined, `${name} has a TYPE`);
      assert.ok(e.help.has(family), `${family} has a HELP`);
      if (e.type.get(family) === 'counter') assert.match(family, /_total$/, `counter ${family}`);
    }
    const own = e.samples.filter((s) => s.name.startsWith('sigward_'));
    for (const s of own) {
      assert.match(s.name, /^sigward_[a-z_]+$/);
      if (e.type.get(familyOf(e, s.name) ?? '') === 'histogram') assert.match(s.name, /_seconds_(bucket|sum|count)$/);
      for (const [label, value] of Object.entries(s.labels)) {
        assert.doesNotMatch(value, /sha256|[0-9a-f]{12}/, `${s.name} ${label}=${value} looks like a digest`);
        assert.doesNotMatch(value, /\/|apps|tools|:v1|^v1$|signed|unsigned/, `${s.name} ${label}=${value}`);
        if (label === 'route') assert.ok((ROUTES as readonly string[]).includes(value), `route ${value}`);
        if (label === 'upstream')
          assert.ok(['example.test', 'down.test', 'liar.test'].includes(value), `upstream ${value}`);
        if (label === 'policy') assert.ok(['images', 'downloads', '(default)'].includes(value), `policy ${value}`);
      }
    }
    for (const route of ['v2', 'healthz', 'readyz', 'other', 'tags', 'metrics'])
      assert.ok(
        own.some((s) => s.name === 'sigward_http_requests_total' && s.labels.route === route),
        `a request on ${route} was counted`,
      );
    assert.equal(e.type.get('sigward_config_generation'), 'gauge');
    assert.equal(e.type.get('sigward_upstream_request_duration_seconds'), 'histogram');
    assert.ok(names.has('process_cpu_user_seconds_total'), 'node process metrics are there');
  });

  test('/metrics answers GET and HEAD; other methods are refused', async () => {
    const head = await get(metricsUrl(), 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal((await get(metricsUrl(), 'POST')).status, 405);
  });

  test('one metrics object across two app generations keeps counting', async () => {
    const shared = new SigwardMetrics();
    const first = await startSigward(config({ listen: 'main' }), { metrics: shared });
    const second = await startSigward(config({ listen: 'main' }), { metrics: shared });
    try {
      assert.equal(first.app?.metrics, shared);
      assert.equal(second.app?.metrics, shared);
      const ok = { route: 'healthz', status: '200' };
      for (let i = 0; i < 3; i++) assert.equal((await get(`${first.url}/healthz`)).status, 200);
      await first.stop();
      for (let i = 0; i < 2; i++) assert.equal((await get(`${second.url}/healthz`)).status, 200);
      const e = await scrape(`${second.url}/metrics`);
      assert.equal(valueOf(e, 'sigward_http_requests_total', ok), 5);
      assert.equal(valueOf(parseExposition((await shared.text()).body), 'sigward_http_requests_total', ok), 5);
    } finally {
      await second.stop();
    }
  });

  test('off (absent, or listen: off): no /metrics route, and nothing is counted', async () => {
    for (const metrics of [undefined, { listen: 'off' }]) {
      const m = new SigwardMetrics();
      const off = await startSigward(config(metrics), { metrics: m });
      try {
        assert.equal(off.app?.metrics, undefined);
        assert.equal((await get(`${off.url}/metrics`)).status, 404);
        assert.equal((await get(`${off.url}/v2/example.test/apps/signed/manifests/v1`)).status, 200);
        const e = parseExposition((await m.text()).body);
        assert.equal(valueOf(e, 'sigward_http_requests_total', { route: 'manifest', status: '200' }), 0);
        assert.equal(valueOf(e, 'sigward_http_requests_total', { route: 'metrics', status: '404' }), 0);
        assert.equal(
          e.samples.filter((s) => s.name === 'sigward_verification_decisions_total').length,
          0,
          'no decision was counted',
        );
      } finally {
        await off.stop();
      }
    }
  });

  test('a separate address: /metrics there and only there', async () => {
    const sep = await startSigward(config({ listen: '127.0.0.1:0' }));
    const metrics = must(sep.app?.metrics, 'metrics are on');
    const listener = await listenMetrics(metrics, { host: '127.0.0.1', port: 0 });
    try {
      assert.equal((await get(`${sep.url}/metrics`)).status, 404, 'not on the proxy listener');
      assert.equal((await get(`${sep.url}/v2/example.test/apps/signed/manifests/v1`)).status, 200);
      const e = await scrape(listener.url);
      assert.equal(valueOf(e, 'sigward_http_requests_total', { route: 'manifest', status: '200' }), 1);
      assert.equal(
        (await get(listener.url.replace('/metrics', '/v2/'))).status,
        404,
        'the metrics address serves nothing else',
      );
      assert.equal((await get(listener.url, 'POST')).status, 405);
      const taken = await listenMetrics(metrics, { host: '127.0.0.1', port: Number(new URL(listener.url).port) }).then(
        () => 'listened',
        (err: unknown) => String(err),
      );
      assert.match(taken, /metrics\.listen 127\.0\.0\.1:\d+: the address is already in use/);
    } finally {
      listener.server.close();
      await sep.stop();
    }
  });

  test('blobs: cache: a cold blob is a miss, the warm one a hit served from disk, both counted in bytes', async () => {
    const data = randomBytes(256 * 1024 + 3);
    const digest = sha256(data);
    await pushBlob(reg, 'apps/cached', data);
    const c = await startSigward({
      upstreams: [{ host: 'example.test', url: reg.url, blobs: 'cache' }],
      policy: { default: 'allow' },
      cache: { dir: freshDir() },
      metrics: { listen: 'main' },
    });
    try {
      const url = `${c.url}/v2/example.test/apps/cached/blobs/${digest}`;
      assert.equal((await get(url)).status, 200);
      const store = must(c.app, 'in-process').sget.store;
      await waitFor(async () => store.has(digest as never), 'the copy to be stored', 10_000);
      const warm = await get(url);
      assert.equal(warm.status, 200);
      assert.deepEqual(warm.body, data);
      const e = await scrape(`${c.url}/metrics`);
      assert.equal(valueOf(e, 'sigward_cache_misses_total', { cache: 'blobs' }), 1);
      assert.equal(valueOf(e, 'sigward_cache_hits_total', { cache: 'blobs' }), 1);
      assert.equal(valueOf(e, 'sigward_served_bytes_total', { route: 'blob' }), 2 * data.length);
    } finally {
      await c.stop();
    }
  });

  test('serve with metrics.listen HOST:PORT: its own listener, counting across a reload (SIGHUP)', async () => {
    const c = spawnServe(config({ listen: '127.0.0.1:0' }) as Record<string, unknown>);
    try {
      const [, metricsAt = ''] = await stderrMatch(c, /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/);
      const [, proxyAt = ''] = await stderrMatch(c, /sigward listening on (http:\/\/127\.0\.0\.1:\d+)/);
      assert.equal((await get(`${proxyAt}/metrics`)).status, 404, 'not on the proxy listener');
      assert.equal((await get(`${proxyAt}/v2/example.test/apps/signed/manifests/v1`)).status, 200);
      let e = await scrape(metricsAt);
      const manifests = { route: 'manifest', status: '200' };
      assert.equal(valueOf(e, 'sigward_http_requests_total', manifests), 1);
      assert.equal(valueOf(e, 'sigward_config_generation'), 1);
      assert.equal(valueOf(e, 'sigward_config_last_reload_success'), 1);
      c.child.kill('SIGHUP');
      // The reload's outcome is what the metrics report: read them until it is there.
      while (valueOf(e, 'sigward_config_reloads_total', { result: 'success' }) === 0) e = await scrape(metricsAt);
      assert.equal(valueOf(e, 'sigward_config_generation'), 2);
      assert.equal(valueOf(e, 'sigward_config_reloads_total', { result: 'failure' }), 0);
      assert.equal((await get(`${proxyAt}/v2/example.test/apps/signed/manifests/v1`)).status, 200);
      e = await scrape(metricsAt);
      assert.equal(valueOf(e, 'sigward_http_requests_total', manifests), 2, 'the count went on across the reload');
    } finally {
      c.remove();
    }
  });
});
