// The node listener (`app.listener()`, what `sigward serve` serves) answers pulls without hono's web Request and
// Response; everything it does not take goes through @hono/node-server as before. Here one app is served both ways,
// in front of a real distribution registry, and every request of a list (pulls, refusals, odd targets and Host
// headers the fast path must leave to hono) must get the same status, reason phrase, headers and body from both,
// and the same access line.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request, type IncomingHttpHeaders, type Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { createLogger } from '../../src/log.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { buildImage, pushImage, type TestImage } from '../helpers/images.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { listenOnLoopback, waitFor } from '../helpers/proc.ts';
import { must } from '../helpers/must.ts';

const ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

interface Answer {
  status: number | undefined;
  reason: string | undefined;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface Line {
  msg?: string;
  reqId?: string;
  [k: string]: unknown;
}

/** One request with the path and headers exactly as given (no client-side normalisation). */
function send(host: string, method: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const [hostname, port] = host.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port: Number(port), method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode,
          reason: res.statusMessage,
          headers: res.headers,
          body: Buffer.concat(chunks),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(method === 'PUT' ? '{}' : undefined);
  });
}

/** The headers that must agree: all but the per-request and per-connection ones. */
function comparable(h: IncomingHttpHeaders): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(h))
    if (!['date', 'x-request-id', 'connection', 'keep-alive'].includes(k)) out[k] = v;
  return out;
}

describe('the node listener answers like hono', () => {
  let reg: Registry;
  let sw: RunningSigward;
  let viaHono: Server;
  let honoHost: string;
  let image: TestImage;
  // pino writes one JSON line per write() to a plain destination.
  const lines: Line[] = [];
  const accessLines = (): Line[] => lines.filter((l) => l.msg === 'request');
  const destination = { write: (line: string) => void lines.push(JSON.parse(line) as Line) };

  before(async () => {
    reg = await startRegistry();
    image = buildImage({ files: { 'fast.txt': 'the fast path\n' } });
    await pushImage(reg, 'fast/app', 'v1', image);
    sw = await startSigward(
      {
        upstreams: [{ host: reg.host, url: reg.url }],
        policy: {
          default: 'deny',
          policies: [{ name: 'fast', match: [`${reg.host}/fast/**`], allow: 'unsigned' }],
        },
      },
      { logger: createLogger('info', destination) },
    );
    viaHono = createAdaptorServer({ fetch: must(sw.app, 'the in-process app').fetch }) as Server;
    honoHost = (await listenOnLoopback(viaHono)).host;
  });
  after(async () => {
    viaHono?.closeAllConnections();
    await new Promise<void>((resolve) => (viaHono ? viaHono.close(() => resolve()) : resolve()));
    await sw?.stop();
    await reg?.stop();
  });

  test('same status, reason phrase, headers, body and access line for pulls, refusals and odd requests', async () => {
    const blob = [...image.blobs.keys()][0] as string;
    const cases: { method: string; path: string; headers?: Record<string, string>; expect: number }[] = [
      { method: 'GET', path: '/v2/', expect: 200 },
      { method: 'GET', path: '/v2', expect: 200 },
      { method: 'GET', path: `/v2/${reg.host}/fast/app/manifests/v1`, headers: { accept: ACCEPT }, expect: 200 },
      { method: 'GET', path: `/v2/fast/app/manifests/v1?ns=${reg.host}`, headers: { accept: ACCEPT }, expect: 200 },
      { method: 'HEAD', path: `/v2/fast/app/manifests/v1?ns=${reg.host}`, headers: { accept: ACCEPT }, expect: 200 },
      {
        method: 'GET',
        path: `/v2/${reg.host}/fast/app/manifests/${image.digest}`,
        headers: { accept: ACCEPT },
        expect: 200,
      },
      // An escaped ':' in the digest: hono decodes, so the fast path leaves it to hono.
      {
        method: 'GET',
        path: `/v2/${reg.host}/fast/app/manifests/${image.digest.replace(':', '%3A')}`,
        headers: { accept: ACCEPT },
        expect: 200,
      },
      { method: 'GET', path: `/v2/${reg.host}/fast/app/blobs/${blob}`, expect: 200 },
      { method: 'HEAD', path: `/v2/${reg.host}/fast/app/blobs/${blob}`, expect: 200 },
      { method: 'GET', path: `/v2/${reg.host}/fast/app/blobs/${blob}`, headers: { range: 'bytes=0-3' }, expect: 206 },
      { method: 'GET', path: `/v2/${reg.host}/fast/app/tags/list`, expect: 200 },
      { method: 'GET', path: `/v2/${reg.host}/fast/app/manifests/nosuch`, headers: { accept: ACCEPT }, expect: 404 },
      { method: 'GET', path: `/v2/${reg.host}/other/app/manifests/v1`, headers: { accept: ACCEPT }, expect: 403 },
      { method: 'GET', path: `/v2/${reg.host}/Fast/app/manifests/v1`, expect: 400 },
      { method: 'GET', path: '/v2/fast/app/manifests/v1?ns=unknown.example', expect: 404 },
      { method: 'PUT', path: `/v2/${reg.host}/fast/app/manifests/v1`, expect: 405 },
      { method: 'OPTIONS', path: '/v2/', expect: 204 },
      { method: 'GET', path: '/v2/nothing-here', expect: 404 },
      // Dot segments: @hono/node-server normalises them (this is /healthz), so the fast path must not take it.
      { method: 'GET', path: '/v2/../healthz', expect: 200 },
      { method: 'GET', path: '/v2x', expect: 404 },
      // A Host header @hono/node-server checks more closely: left to it.
      {
        method: 'GET',
        path: `/v2/${reg.host}/fast/app/manifests/v1`,
        headers: { accept: ACCEPT, host: 'Registry.Example:443' },
        expect: 200,
      },
    ];
    for (const c of cases) {
      const what = `${c.method} ${c.path}`;
      const before = accessLines().length;
      const fast = await send(sw.host, c.method, c.path, c.headers);
      await waitFor(async () => accessLines().length > before, `the access line of ${what} (listener)`);
      const fastLine = accessLines().at(-1) as Line;
      const hono = await send(honoHost, c.method, c.path, c.headers);
      await waitFor(async () => accessLines().length > before + 1, `the access line of ${what} (hono)`);
      const honoLine = accessLines().at(-1) as Line;
      assert.equal(fast.status, c.expect, `${what}: ${fast.body.toString()}`);
      assert.equal(fast.status, hono.status, what);
      assert.equal(fast.reason, hono.reason, what);
      assert.deepEqual(comparable(fast.headers), comparable(hono.headers), what);
      assert.deepEqual(fast.body, hono.body, what);
      assert.match(String(fast.headers['x-request-id']), /^[0-9a-f]{6}-[0-9a-z]+$/, what);
      assert.notEqual(fast.headers['x-request-id'], hono.headers['x-request-id'], what);
      assert.equal(fastLine.msg, 'request', what);
      assert.equal(fastLine.reqId, fast.headers['x-request-id'], what);
      assert.equal(honoLine.reqId, hono.headers['x-request-id'], what);
      const { reqId: _a, ms: _b, time: _c, ...fastRest } = fastLine;
      const { reqId: _d, ms: _e, time: _f, ...honoRest } = honoLine;
      assert.deepEqual(fastRest, honoRest, what);
    }
  });
});
