// Fail-static (`failStatic` on an upstream): the real registry sits behind a switch that can pass requests through,
// reset connections, answer 503, 404 or 401, or never answer. While it is down, a tag sigward served verified within
// the window under the policy in force is served from the kept bytes with a Warning; everything else fails as it
// does without fail-static.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server, type ServerResponse } from 'node:http';
import { request } from 'undici';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { buildImage, buildMultiArch, OCI_INDEX, OCI_MANIFEST, pushImage, type TestImage } from '../helpers/images.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { newKey, signLegacy } from '../helpers/cosign.ts';
import { listenOnLoopback, removeTempDir, tempDir } from '../helpers/proc.ts';
import { createSkopeo } from '../helpers/skopeo.ts';
import { parseExposition, valueOf } from '../helpers/prom-text.ts';
import { createLogger } from '../../src/log.ts';

const ACCEPT = `${OCI_MANIFEST}, ${OCI_INDEX}`;

type Mode = 'pass' | 'reset' | '503' | '404' | '401' | 'hang' | 'signatures503';

/** An HTTP forwarder to the registry whose behaviour the test switches. */
async function startSwitch(target: Registry): Promise<{ url: string; mode: Mode; close(): Promise<void> }> {
  const sw = { url: '', mode: 'pass' as Mode, close: async () => {} };
  const error = (res: ServerResponse, status: number, code: string, extra: Record<string, string> = {}): void => {
    const body = JSON.stringify({ errors: [{ code, message: `switch says ${status}` }] });
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length, ...extra });
    res.end(body);
  };
  const server: Server = createServer((req, res) => {
    // signatures503: the registry answers everything but signature lookups (`sha256-<hex>` tags, referrers).
    const mode = sw.mode === 'signatures503' ? (/sha256-|\/referrers\//.test(req.url ?? '') ? '503' : 'pass') : sw.mode;
    switch (mode) {
      case 'reset':
        req.socket.resetAndDestroy();
        return;
      case 'hang':
        return;
      case '503':
        return error(res, 503, 'UNAVAILABLE');
      case '404':
        return error(res, 404, 'MANIFEST_UNKNOWN');
      case '401':
        return error(res, 401, 'UNAUTHORIZED', { 'www-authenticate': 'Basic realm="switch"' });
      case 'pass': {
        const up = httpRequest(`${target.url}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        up.on('error', () => res.destroy());
        req.pipe(up);
      }
    }
  });
  sw.url = `http://${(await listenOnLoopback(server)).host}`;
  sw.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return sw;
}

interface Pulled {
  status: number;
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

async function pull(sw: RunningSigward, host: string, repo: string, ref: string, method = 'GET'): Promise<Pulled> {
  const r = await request(`${sw.url}/v2/${host}/${repo}/manifests/${ref}`, {
    method: method as 'GET' | 'HEAD',
    headers: { accept: ACCEPT },
  });
  return { status: r.statusCode, body: Buffer.from(await r.body.arrayBuffer()), headers: r.headers };
}

describe('fail-static', () => {
  let reg: Registry;
  let flaky: Awaited<ReturnType<typeof startSwitch>>;
  const alice = newKey('alice');
  const signed: TestImage = buildImage({ files: { 'a.txt': 'served verified before the outage\n' } });
  const other: TestImage = buildImage({ files: { 'a.txt': 'never pulled through sigward\n' } });
  const unsigned: TestImage = buildImage({ files: { 'a.txt': 'allowed unsigned\n' } });
  const multi: TestImage = buildMultiArch({ 'm.txt': 'multi-arch, signed at the index\n' });
  const child = multi.manifests[0] as TestImage;
  const dirs: string[] = [];
  let clock = Date.now();
  const now = (): number => clock;

  const config = (cacheDir: string, extraPolicy = false) => ({
    upstreams: [
      {
        host: 'fs.test',
        url: flaky.url,
        failStatic: '1h',
        retries: 0,
        timeouts: { connect: '2s', headers: '1s', body: '1s' },
      },
      { host: 'plain.test', url: flaky.url, retries: 0, timeouts: { connect: '2s', headers: '1s', body: '1s' } },
    ],
    cache: { dir: cacheDir },
    metrics: { listen: 'main' },
    trust: { keys: { alice: { pem: alice.publicPem } } },
    policy: {
      policies: [
        { name: 'apps', match: ['fs.test/apps/*', 'plain.test/apps/*'], keys: ['alice'] },
        { name: 'loose', match: ['fs.test/loose/*'], allow: 'unsigned' },
        ...(extraPolicy ? [{ name: 'other', match: ['fs.test/other/*'], keys: ['alice'] }] : []),
      ],
    },
  });

  /** A fresh cache.dir with apps/signed:v1 (and the multi-arch index and one child, and loose/unsigned:v1) served
   * through both upstreams while the registry is up. */
  async function warmed(): Promise<{ dir: string; sw: RunningSigward; lines: Record<string, unknown>[] }> {
    const dir = tempDir('fail-static');
    dirs.push(dir);
    flaky.mode = 'pass';
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger('info', {
      write(s: string) {
        for (const l of s.split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      },
    });
    const sw = await startSigward(config(dir), { keepState: true, now, logger });
    for (const host of ['fs.test', 'plain.test']) assert.equal((await pull(sw, host, 'apps/signed', 'v1')).status, 200);
    assert.equal((await pull(sw, 'fs.test', 'apps/multi', 'v1')).status, 200);
    assert.equal((await pull(sw, 'fs.test', 'apps/multi', child.digest)).status, 200);
    const loose = await pull(sw, 'fs.test', 'loose/unsigned', 'v1');
    assert.equal(loose.status, 200);
    assert.equal(loose.headers['x-sigward-outcome'], 'unsigned-allowed');
    return { dir, sw, lines };
  }

  before(async () => {
    reg = await startRegistry();
    flaky = await startSwitch(reg);
    await pushImage(reg, 'apps/signed', 'v1', signed);
    await signLegacy(reg, 'apps/signed', signed.digest, { keys: [alice] });
    await pushImage(reg, 'apps/signed', 'v2', other);
    await signLegacy(reg, 'apps/signed', other.digest, { keys: [alice] });
    await pushImage(reg, 'apps/multi', 'v1', multi);
    await signLegacy(reg, 'apps/multi', multi.digest, { keys: [alice] });
    await pushImage(reg, 'loose/unsigned', 'v1', unsigned);
  });

  after(async () => {
    await flaky?.close();
    await reg?.stop();
    for (const d of dirs) removeTempDir(d);
  });

  test('an upstream that resets, answers 503 or times out: the tag served verified is served from kept bytes with a Warning', async () => {
    const { sw, lines } = await warmed();
    try {
      for (const mode of ['reset', '503', 'hang'] as const) {
        flaky.mode = mode;
        const r = await pull(sw, 'fs.test', 'apps/signed', 'v1');
        assert.equal(r.status, 200, `${mode}: ${r.body.toString()}`);
        assert.deepEqual(r.body, signed.bytes);
        assert.equal(r.headers['docker-content-digest'], signed.digest);
        assert.match(String(r.headers.warning), /^111 sigward "Revalidation Failed: upstream fs\.test unavailable; /);
        assert.equal(r.headers['x-sigward-outcome'], 'fail-static');
        assert.equal(r.headers['x-sigward-signers'], 'alice');
      }
      const head = await pull(sw, 'fs.test', 'apps/signed', 'v1', 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], String(signed.size));
      const served = lines.filter((l) => String(l.msg).startsWith('upstream unavailable: serving the manifest'));
      assert.equal(served.length, 4);
      assert.equal(served[0]?.digest, signed.digest);
      const metrics = parseExposition((await sw.app?.metrics?.text())?.body ?? '');
      assert.equal(valueOf(metrics, 'sigward_fail_static_served_total', { upstream: 'fs.test' }), 4);
    } finally {
      flaky.mode = 'pass';
      await sw.stop();
    }
  });

  test('an upstream without failStatic, a tag never served verified, one only allowed unsigned: fail closed', async () => {
    const { sw, lines } = await warmed();
    try {
      flaky.mode = '503';
      const plain = await pull(sw, 'plain.test', 'apps/signed', 'v1');
      assert.equal(plain.status, 503);
      assert.equal(plain.headers.warning, undefined);
      assert.equal((await pull(sw, 'fs.test', 'apps/signed', 'v2')).status, 503);
      assert.equal((await pull(sw, 'fs.test', 'loose/unsigned', 'v1')).status, 503);
      const metrics = parseExposition((await sw.app?.metrics?.text())?.body ?? '');
      for (const upstream of ['fs.test', 'plain.test'])
        assert.equal(valueOf(metrics, 'sigward_fail_static_served_total', { upstream }), 0, upstream);
      const why = lines.filter((l) => String(l.msg).startsWith('upstream unavailable and nothing served verified'));
      assert.deepEqual(
        why.map((l) => l.image),
        ['fs.test/apps/signed:v2', 'fs.test/loose/unsigned:v1'],
        'said for the opted-in upstream only',
      );
    } finally {
      flaky.mode = 'pass';
      await sw.stop();
    }
  });

  test('no rollback: a tag moved on to an image decided otherwise, or answered with a digest whose lookup failed, is not served from older kept bytes', async () => {
    const { sw } = await warmed();
    const a = buildImage({ files: { 'a.txt': 'moving tag, first image (signed)\n' } });
    const b = buildImage({ files: { 'a.txt': 'moving tag, second image (unsigned)\n' } });
    const c = buildImage({ files: { 'a.txt': 'moving tag, third image (signed)\n' } });
    try {
      await pushImage(reg, 'apps/moving', 'v1', a);
      await signLegacy(reg, 'apps/moving', a.digest, { keys: [alice] });
      await pushImage(reg, 'apps/moving2', 'v1', a);
      await signLegacy(reg, 'apps/moving2', a.digest, { keys: [alice] });
      for (const repo of ['apps/moving', 'apps/moving2'])
        assert.equal((await pull(sw, 'fs.test', repo, 'v1')).status, 200);
      // The tag now names an unsigned image: refused; during an outage the older signed one is not served.
      await pushImage(reg, 'apps/moving', 'v1', b);
      assert.equal((await pull(sw, 'fs.test', 'apps/moving', 'v1')).status, 403);
      flaky.mode = '503';
      const moved = await pull(sw, 'fs.test', 'apps/moving', 'v1');
      assert.equal(moved.status, 503, moved.body.toString());
      // By digest the signed image is still served: it was verified, and nothing refused it.
      assert.equal((await pull(sw, 'fs.test', 'apps/moving', a.digest)).status, 200);
      // The registry answers the tag with a new signed digest, but its signatures cannot be looked up: only that
      // digest could be served, never the older one.
      flaky.mode = 'pass';
      await pushImage(reg, 'apps/moving2', 'v1', c);
      await signLegacy(reg, 'apps/moving2', c.digest, { keys: [alice] });
      flaky.mode = 'signatures503';
      const answered = await pull(sw, 'fs.test', 'apps/moving2', 'v1');
      assert.equal(answered.status, 503, answered.body.toString());
    } finally {
      flaky.mode = 'pass';
      await sw.stop();
    }
  });

  test('404 and 401 from the upstream are answered as they are, never from kept bytes', async () => {
    const { sw } = await warmed();
    try {
      flaky.mode = '404';
      const gone = await pull(sw, 'fs.test', 'apps/signed', 'v1');
      assert.equal(gone.status, 404);
      flaky.mode = '401';
      const unauthorized = await pull(sw, 'fs.test', 'apps/signed', 'v1');
      assert.equal(unauthorized.status, 502);
      assert.equal(unauthorized.headers.warning, undefined);
    } finally {
      flaky.mode = 'pass';
      await sw.stop();
    }
  });

  test('a digest whose verdict expired is served within the window; past the window it fails closed', async () => {
    const { sw } = await warmed();
    try {
      flaky.mode = 'reset';
      assert.equal((await pull(sw, 'fs.test', 'apps/signed', 'v1')).status, 200);
      // Past cache.allowTtl (10m): the verdict is gone, its signatures cannot be looked up, the window still holds.
      clock += 11 * 60_000;
      const byDigest = await pull(sw, 'fs.test', 'apps/signed', signed.digest);
      assert.equal(byDigest.status, 200, byDigest.body.toString());
      assert.equal(byDigest.headers['x-sigward-outcome'], 'fail-static');
      clock += 50 * 60_000;
      assert.equal((await pull(sw, 'fs.test', 'apps/signed', 'v1')).status, 503);
    } finally {
      flaky.mode = 'pass';
      clock = Date.now();
      await sw.stop();
    }
  });

  test('a restart during the outage: tags and platform manifests by digest still served; a changed policy fails closed', async () => {
    const { dir, sw } = await warmed();
    await sw.stop();
    flaky.mode = 'reset';
    try {
      const again = await startSigward(config(dir), { keepState: true, now });
      try {
        const t = await pull(again, 'fs.test', 'apps/multi', 'v1');
        assert.equal(t.status, 200, t.body.toString());
        assert.deepEqual(t.body, multi.bytes);
        assert.equal(t.headers['x-sigward-outcome'], 'fail-static');
        const c = await pull(again, 'fs.test', 'apps/multi', child.digest);
        assert.equal(c.status, 200, c.body.toString());
        assert.deepEqual(c.body, child.bytes);
      } finally {
        await again.stop();
      }
      const changed = await startSigward(config(dir, true), { keepState: true, now });
      try {
        assert.equal((await pull(changed, 'fs.test', 'apps/signed', 'v1')).status, 503);
        assert.equal((await pull(changed, 'fs.test', 'apps/multi', child.digest)).status, 503);
      } finally {
        await changed.stop();
      }
    } finally {
      flaky.mode = 'pass';
    }
  });

  test('skopeo reads the manifest sigward serves during the outage', async () => {
    const { sw } = await warmed();
    const skopeo = createSkopeo({ sigward: sw.host, prefix: 'fs.test' });
    try {
      flaky.mode = 'reset';
      const r = await skopeo.inspectRaw('fs.test/apps/signed:v1');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, signed.bytes.toString());
    } finally {
      flaky.mode = 'pass';
      skopeo.remove();
      await sw.stop();
    }
  });
});
