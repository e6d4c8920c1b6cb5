// sigward_upstream_errors_total: every way an upstream can fail lands in its class, counted once, through the real
// upstream client (src/upstream) and the real metrics. A real distribution registry where it can produce the failure
// (401 with htpasswd, TLS under an unknown CA, a 404 that is an answer); fakes only to inject the rest (a silent
// server, a reset, statuses, bad bytes), a closed port for a refused connection, and an injected resolver for DNS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buffer } from 'node:stream/consumers';
import type { LookupFunction } from 'node:net';
import type { UpstreamConfig } from '../../src/config/types.ts';
import { DEFAULT_LIMITS, DEFAULT_TIMEOUTS } from '../../src/config/types.ts';
import { Upstreams } from '../../src/upstream/registry.ts';
import type { UpstreamClient } from '../../src/upstream/client.ts';
import type { DispatcherOptions } from '../../src/upstream/dispatcher.ts';
import { SigwardMetrics } from '../../src/metrics/metrics.ts';
import { UPSTREAM_ERROR_CLASSES } from '../../src/metrics/upstream-errors.ts';
import type { Digest } from '../../src/oci/digest.ts';
import { parseExposition } from '../helpers/prom-text.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { buildImage, pushImage } from '../helpers/images.ts';
import { json, sha256, startFake, type Fake, type Handler } from '../helpers/fake-upstream.ts';
import { freePort } from '../helpers/proc.ts';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const MANIFEST = Buffer.from(
  JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: {}, layers: [] }),
  'utf8',
);
const BLOB = Buffer.alloc(256 * 1024, 7);
const TAG = { kind: 'tag', tag: 'v1' } as const;

interface Setup {
  readonly url: string;
  readonly timeouts?: Partial<typeof DEFAULT_TIMEOUTS>;
  readonly dispatcherOptions?: DispatcherOptions;
}

/** Run `call` on a fresh client of `setup` with fresh metrics; the upstream error counts by class afterwards. */
async function failures(setup: Setup, call: (c: UpstreamClient) => Promise<unknown>): Promise<Record<string, number>> {
  const metrics = new SigwardMetrics();
  const cfg: UpstreamConfig = {
    host: 'up.test',
    aliases: [],
    url: setup.url,
    default: false,
    libraryPrefix: false,
    auth: { kind: 'anonymous' },
    timeouts: { ...DEFAULT_TIMEOUTS, ...setup.timeouts },
    retries: 0,
    allowPrivateNetworks: true,
  };
  const ups = new Upstreams([cfg], {
    limits: { ...DEFAULT_LIMITS, manifestBytes: 64 * 1024 },
    metrics,
    ...(setup.dispatcherOptions && { dispatcherOptions: setup.dispatcherOptions }),
  });
  try {
    await call(ups.get('up.test')).then(
      () => assert.fail('the call was expected to fail'),
      () => undefined,
    );
  } finally {
    await ups.close(100);
  }
  const e = parseExposition((await metrics.text()).body);
  const out: Record<string, number> = {};
  for (const s of e.samples)
    if (s.name === 'sigward_upstream_errors_total' && s.value > 0) out[s.labels.class as string] = s.value;
  return out;
}

const getManifest = (c: UpstreamClient): Promise<unknown> => c.getManifest('apps/app', TAG);

describe('upstream errors by class, through the upstream client', () => {
  let fake: Fake;
  const routes = new Map<string, Handler>();

  before(async () => {
    fake = await startFake(async (req, res, n) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const handler = routes.get(path.split('/')[2] ?? '');
      if (handler === undefined) json(res, 404, { errors: [{ code: 'NAME_UNKNOWN', message: 'no route' }] });
      else await handler(req, res, n);
    });
  });
  after(async () => {
    await fake?.close();
  });

  /** The fake answers /v2/<name>/... with `handler`. */
  const at = (name: string, handler: Handler): Setup => {
    routes.set(name, handler);
    return { url: `${fake.url}/`, timeouts: {} };
  };
  const path = (name: string) => (c: UpstreamClient) => c.getManifest(`${name}/app`, TAG);

  test('timeout: no response head within timeouts.headers', async () => {
    const setup = at('silent', () => new Promise<void>(() => undefined));
    assert.deepEqual(await failures({ ...setup, timeouts: { headersMs: 300 } }, path('silent')), { timeout: 1 });
  });

  test('connect_refused: nothing listens on the port', async () => {
    assert.deepEqual(await failures({ url: `http://127.0.0.1:${await freePort()}` }, getManifest), {
      connect_refused: 1,
    });
  });

  test('connect_reset: the connection is dropped before an answer, and while a blob streams', async () => {
    const setup = at('reset', (req) => void req.socket.destroy());
    assert.deepEqual(await failures(setup, path('reset')), { connect_reset: 1 });
    const cut = at('cut', (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(BLOB.length) });
      res.write(BLOB.subarray(0, 1024), () => res.socket?.destroy());
    });
    const blob = async (c: UpstreamClient) => buffer((await c.getBlob('cut/app', sha256(BLOB) as Digest)).body);
    assert.deepEqual(await failures(cut, blob), { connect_reset: 1 });
  });

  test('dns: the upstream host name does not resolve', async () => {
    const lookup = ((_host: string, _opts: unknown, cb: (e: Error | null) => void) =>
      cb(Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.test'), { code: 'ENOTFOUND' }))) as LookupFunction;
    assert.deepEqual(await failures({ url: 'http://nowhere.test:5000', dispatcherOptions: { lookup } }, getManifest), {
      dns: 1,
    });
  });

  test('4xx by status: 403 denied, 429 rate_limited, 400 and 405 http_4xx', async () => {
    for (const [status, cls] of [
      [403, 'denied'],
      [429, 'rate_limited'],
      [400, 'http_4xx'],
      [405, 'http_4xx'],
    ] as const) {
      const name = `s${status}`;
      const setup = at(name, (_req, res) => json(res, status, { errors: [{ code: 'X', message: `${status}` }] }));
      assert.deepEqual(await failures(setup, path(name)), { [cls]: 1 }, `status ${status}`);
    }
  });

  test('http_5xx: 500 and 503', async () => {
    for (const status of [500, 503]) {
      const setup = at(`s${status}`, (_req, res) => json(res, status, { errors: [] }));
      assert.deepEqual(await failures(setup, path(`s${status}`)), { http_5xx: 1 }, `status ${status}`);
    }
  });

  test('digest_mismatch: a manifest whose bytes do not hash to the digest it claims', async () => {
    const setup = at('mismatch', (_req, res) => {
      res.writeHead(200, { 'Content-Type': OCI_MANIFEST, 'Docker-Content-Digest': sha256(Buffer.from('other')) });
      res.end(MANIFEST);
    });
    assert.deepEqual(await failures(setup, path('mismatch')), { digest_mismatch: 1 });
  });

  test('too_large: a manifest over limits.manifestBytes', async () => {
    const big = Buffer.alloc(128 * 1024, 0x20);
    const setup = at('big', (_req, res) => {
      res.writeHead(200, { 'Content-Type': OCI_MANIFEST });
      res.end(big);
    });
    assert.deepEqual(await failures(setup, path('big')), { too_large: 1 });
  });

  test('invalid: a 206 to a whole-blob GET, an untyped non-JSON manifest', async () => {
    const partial = at('partial', (_req, res) => {
      res.writeHead(206, { 'Content-Type': 'application/octet-stream', 'Content-Range': 'bytes 0-9/100' });
      res.end(BLOB.subarray(0, 10));
    });
    assert.deepEqual(await failures(partial, (c) => c.getBlob('partial/app', sha256(BLOB) as Digest)), { invalid: 1 });
    const untyped = at('untyped', (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('not a manifest');
    });
    assert.deepEqual(await failures(untyped, path('untyped')), { invalid: 1 });
  });

  test('every class is documented in the metric help', async () => {
    const m = new SigwardMetrics();
    const text = (await m.text()).body;
    const help = text.split('\n').find((l) => l.startsWith('# HELP sigward_upstream_errors_total')) ?? '';
    for (const cls of UPSTREAM_ERROR_CLASSES) assert.ok(help.includes(cls), `${cls} in: ${help}`);
  });
});

describe('upstream errors by class, against a real registry', () => {
  let plain: Registry;
  let basic: Registry;
  let tls: Registry;
  const image = buildImage({ files: { 'a.txt': 'errors' } });

  before(async () => {
    plain = await startRegistry({ accessLog: false, logLevel: 'error' });
    await pushImage(plain, 'apps/app', 'v1', image);
    basic = await startRegistry({ auth: 'htpasswd', accessLog: false, logLevel: 'error' });
    tls = await startRegistry({ tls: true, accessLog: false, logLevel: 'error' });
  });
  after(async () => {
    await tls?.stop();
    await basic?.stop();
    await plain?.stop();
  });

  test('a 404 is an answer, not counted', async () => {
    const metrics = await failures({ url: plain.url }, (c) => c.getManifest('apps/missing', TAG));
    assert.deepEqual(metrics, {});
  });

  test('unauthorized: distribution with htpasswd, no credentials', async () => {
    assert.deepEqual(await failures({ url: basic.url }, getManifest), { unauthorized: 1 });
  });

  test('tls: distribution over TLS under a CA the upstream was not given', async () => {
    assert.deepEqual(await failures({ url: tls.url }, getManifest), { tls: 1 });
  });

  test('a blob streamed whole from the real registry counts nothing', async () => {
    const layer = (JSON.parse(image.bytes.toString()) as { layers: { digest: Digest }[] }).layers[0]?.digest;
    const metrics = new SigwardMetrics();
    const ups = new Upstreams(
      [
        {
          host: 'up.test',
          aliases: [],
          url: plain.url,
          default: false,
          libraryPrefix: false,
          auth: { kind: 'anonymous' },
          timeouts: DEFAULT_TIMEOUTS,
          retries: 0,
        },
      ],
      { limits: DEFAULT_LIMITS, metrics },
    );
    const body = await buffer((await ups.get('up.test').getBlob('apps/app', layer as Digest)).body);
    assert.equal(sha256(body), layer);
    await ups.close();
    assert.ok(!(await metrics.text()).body.includes('sigward_upstream_errors_total{'));
  });
});
