// Every upstream body fault at every stage, for every kind of upstream body sigward reads: `/v2/` blobs (streamed),
// manifests, signature lookups (the `.sig` manifest and its layer blob) and `/sget/` (by manifest digest, by tag and
// by blob digest), plus the sget store's own faults. Each case asserts the answer (an OCI error, or a cut connection
// once a streamed blob's status line is out), that the daemon still answers `GET /v2/`, that sget left nothing in
// its store, and, for the whole file, that no 'error' went unhandled: the daemon runs in this process, so an
// unhandled stream error would be an uncaught exception, recorded by the trap below instead of ending the run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  oneFileManifest,
  sha256,
  startFakeUpstream,
  type FakeHandler,
  type FakeUpstream,
} from '../helpers/fake-upstream.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { ociErrorOf, rawGet, type RawResponse } from '../helpers/raw-http.ts';
import { removeTempDir, tempDir, waitFor } from '../helpers/proc.ts';
import { newKey } from '../helpers/cosign.ts';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { signBytes } from '../../src/sign/signer.ts';
import { buildLegacySignatureImage } from '../../src/sign/legacy-image.ts';
import { signatureTag } from '../../src/oci/cosign-tags.ts';
import type { Digest } from '../../src/oci/digest.ts';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const ACCEPT = { Accept: OCI_MANIFEST };
const HOST = 'fault.test';

const trapped: unknown[] = [];
const trap = (e: unknown): void => void trapped.push(e);

function bytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let at = 0, n = 0; at < size; n++) at += createHash('sha256').update(`${seed}/${n}`).digest().copy(out, at);
  return out;
}

// ---- the faults: what the upstream does with the body it should send -------------------------------------------

interface Fault {
  readonly name: string;
  /** Which daemon meets it: the drips need a body limit small enough for a test. */
  readonly via?: 'deadline' | 'rate';
  handler(data: Buffer, contentType: string): FakeHandler;
}

const head = (
  res: Parameters<FakeHandler>[1],
  status: number,
  contentType: string,
  length?: number,
  extra: Record<string, string> = {},
): void =>
  void res.writeHead(status, {
    'Content-Type': contentType,
    ...(length === undefined ? {} : { 'Content-Length': String(length) }),
    ...extra,
  });

/** 1 byte every 20 ms, never the last one: a body that would never end. */
const drip =
  (data: Buffer, contentType: string): FakeHandler =>
  (_req, res) => {
    head(res, 200, contentType, data.length);
    let at = 0;
    const timer = setInterval(() => {
      if (at < data.length - 1) res.write(data.subarray(at, ++at));
    }, 20);
    res.on('close', () => clearInterval(timer));
  };

const FAULTS: readonly Fault[] = [
  { name: 'reset before headers', handler: () => (req) => req.socket.resetAndDestroy() },
  { name: 'closed before headers', handler: () => (req) => req.socket.end() },
  {
    name: 'reset mid-body',
    handler: (data, ct) => (_req, res) => {
      head(res, 200, ct, data.length);
      res.write(data.subarray(0, data.length >> 1), () => res.socket?.resetAndDestroy());
    },
  },
  {
    name: 'reset after the last byte',
    handler: (data, ct) => (_req, res) => {
      head(res, 200, ct); // chunked: the body is complete only with its last (empty) chunk, which never comes
      res.write(data, () => res.socket?.resetAndDestroy());
    },
  },
  {
    name: 'one byte more',
    handler: (data, ct) => (_req, res) => (
      head(res, 200, ct, data.length + 1),
      res.end(Buffer.concat([data, Buffer.from('!')]))
    ),
  },
  {
    name: 'one byte less',
    handler: (data, ct) => (_req, res) => (head(res, 200, ct, data.length - 1), res.end(data.subarray(0, -1))),
  },
  {
    name: '206 without Range',
    handler: (data, ct) => (_req, res) => (
      head(res, 206, ct, data.length, { 'Content-Range': `bytes 0-${data.length - 1}/${data.length}` }),
      res.end(data)
    ),
  },
  { name: 'endless drip (bodyDeadline)', via: 'deadline', handler: drip },
  { name: 'endless drip (minBodyRate)', via: 'rate', handler: drip },
];

// ---- what the upstream holds ------------------------------------------------------------------------------------

const key = newKey('matrix');

interface Artifact {
  readonly repo: string;
  readonly data: Buffer;
  readonly manifest: Buffer;
  readonly digest: string;
  readonly blobPath: string;
  readonly manifestPath: string;
  readonly sigManifestPath: string;
  readonly sigLayerPath: string;
  readonly sigManifest: Buffer;
  readonly sigLayer: Buffer;
}

/** A one-file artifact at `repo`, honestly served and signed by `key` (legacy `.sig`); faults are scripted over it. */
function publish(fake: FakeUpstream, repo: string, size: number, opts: { declaredSize?: number } = {}): Artifact {
  const data = bytes(repo, size);
  const manifest = oneFileManifest(data, {
    mediaType: 'application/x-sh',
    title: 'install.sh',
    size: opts.declaredSize ?? data.length,
  });
  const digest = sha256(manifest);
  // A nonce in `optional`: no payload shape sigward knows or learns rebuilds this layer, so it is always fetched and
  // the faults scripted on it are met.
  const payload = simpleSigningPayload({
    dockerReference: `${HOST}/${repo}`,
    digest,
    optional: { nonce: randomUUID() },
  });
  const sig = buildLegacySignatureImage({ layers: [{ payload, signature: signBytes(key.privateKey, payload) }] });
  const sigLayer = Buffer.from(sig.layers[0]?.bytes ?? new Uint8Array());
  const a: Artifact = {
    repo,
    data,
    manifest,
    digest,
    blobPath: `/v2/${repo}/blobs/${sha256(data)}`,
    manifestPath: `/v2/${repo}/manifests/${digest}`,
    sigManifestPath: `/v2/${repo}/manifests/${signatureTag(digest as Digest)}`,
    sigLayerPath: `/v2/${repo}/blobs/${sha256(sigLayer)}`,
    sigManifest: Buffer.from(sig.manifest),
    sigLayer,
  };
  const honest =
    (body: Buffer, ct: string): FakeHandler =>
    (req, res) => {
      head(res, 200, ct, body.length, { 'Docker-Content-Digest': sha256(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
  fake.route(a.manifestPath, honest(manifest, OCI_MANIFEST));
  fake.route(`/v2/${repo}/manifests/v1`, honest(manifest, OCI_MANIFEST));
  fake.route(a.blobPath, honest(data, 'application/octet-stream'));
  fake.route(a.sigManifestPath, honest(a.sigManifest, sig.manifestMediaType));
  fake.route(
    `/v2/${repo}/blobs/${sig.config.digest}`,
    honest(Buffer.from(sig.config.bytes), 'application/octet-stream'),
  );
  fake.route(a.sigLayerPath, honest(sigLayer, 'application/octet-stream'));
  return a;
}

// ---- the daemons ------------------------------------------------------------------------------------------------

interface Daemon {
  readonly sw: RunningSigward;
  readonly cacheDir: string;
}

describe('fault matrix: no upstream or store fault can end the daemon', () => {
  let fake: FakeUpstream;
  const daemons = new Map<string, Daemon>();
  const dirs: string[] = [];
  const config = (cacheDir: string, extra: Record<string, unknown> = {}) => ({
    upstreams: [{ host: HOST, url: fake.url, retries: 0, timeouts: { connect: '2s', headers: '5s', body: '5s' } }],
    cache: { dir: cacheDir },
    trust: { keys: { matrix: { pem: key.publicPem } } },
    policy: {
      default: 'deny',
      policies: [
        { name: 'open', match: [`${HOST}/open/*`], allow: 'unsigned' },
        { name: 'signed', match: [`${HOST}/signed/*`], keys: ['matrix'] },
      ],
    },
    ...extra,
  });
  const daemon = (name: string): Daemon => {
    const d = daemons.get(name);
    assert.ok(d, name);
    return d;
  };

  before(async () => {
    process.on('uncaughtException', trap);
    process.on('unhandledRejection', trap);
    fake = await startFakeUpstream();
    const start = async (
      name: string,
      extra: Record<string, unknown> = {},
      deps: Parameters<typeof startSigward>[1] = {},
      cacheDir = tempDir(`matrix-${name}`),
    ): Promise<void> => {
      dirs.push(cacheDir);
      daemons.set(name, { sw: await startSigward(config(cacheDir, extra), deps), cacheDir });
    };
    await start('main');
    await start('deadline', { limits: { bodyDeadline: '300ms', minBodyRate: 0 } });
    await start('rate', { limits: { minBodyRate: '64KiB', bodyRateWindow: '200ms' } });
    await start('full', {}, { sgetFreeBytes: async () => 10 * 1024 * 1024 });
    await start('small', { sget: { storeSize: '1MiB', maxArtifactSize: '1MiB' } });
    await start('spoolfile');
    const notADir = join(tempDir('matrix-notadir'), 'file');
    writeFileSync(notADir, 'a file where a directory should be\n');
    dirs.push(notADir);
    await start('unwritable', {}, {}, join(notADir, 'cache'));
  });
  after(async () => {
    for (const d of daemons.values()) await d.sw.stop();
    await fake?.stop();
    for (const d of dirs) removeTempDir(d);
    process.off('uncaughtException', trap);
    process.off('unhandledRejection', trap);
    assert.deepEqual(trapped, [], 'no error went unhandled');
  });

  const storeFiles = (d: Daemon): { blobs: string[]; tmp: string[] } => {
    const ls = (sub: string): string[] => {
      try {
        return readdirSync(join(d.cacheDir, 'sget', sub));
      } catch {
        return [];
      }
    };
    return { blobs: ls('blobs'), tmp: ls('tmp') };
  };

  /** The daemon still answers, and nothing unhandled happened so far. */
  const assertAlive = async (d: Daemon): Promise<void> => {
    const r = await rawGet(`${d.sw.url}/v2/`);
    assert.equal(r.status, 200, 'GET /v2/ still answers');
    // Taken out, so that each case reports only what it caused.
    assert.deepEqual(trapped.splice(0).map(String), [], 'no error went unhandled');
  };

  const assertError = (r: RawResponse, status: number, message?: RegExp): void => {
    assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.body.toString().slice(0, 400)}`);
    const err = ociErrorOf(r.body);
    assert.ok(err, `an OCI error body, got ${r.body.toString().slice(0, 200)}`);
    if (message) assert.match(err.message, message);
  };

  /** A streamed blob: either an error before the status line, or a connection cut before the body completed. */
  const assertRefusedOrCut = (r: RawResponse, data: Buffer, status: number): void => {
    if (r.status === 200) {
      assert.equal(r.complete, false, 'a 200 under way is cut, never completed');
      assert.ok(!r.body.equals(data), 'never the whole body');
      return;
    }
    assertError(r, status);
  };

  /**
   * The answer each fault gets, per kind of body: a streamed /v2/ blob, a manifest, a signature lookup, sget. A
   * signature whose bytes are wrong is read but does not count (403 naming it); a lookup the upstream failed is 503
   * (the gate's "could not look up signatures", never cached).
   */
  const expected: Record<
    string,
    { blob: number | 'cut'; manifest: number; sig: number; sget: number; message?: RegExp }
  > = {
    'reset before headers': { blob: 503, manifest: 503, sig: 503, sget: 503 },
    'closed before headers': { blob: 503, manifest: 503, sig: 503, sget: 503 },
    'reset mid-body': { blob: 'cut', manifest: 503, sig: 503, sget: 503 },
    'reset after the last byte': { blob: 'cut', manifest: 503, sig: 503, sget: 503 },
    'one byte more': { blob: 'cut', manifest: 502, sig: 403, sget: 502 },
    'one byte less': { blob: 'cut', manifest: 502, sig: 403, sget: 502 },
    '206 without Range': { blob: 502, manifest: 502, sig: 503, sget: 502, message: /206/ },
    'endless drip (bodyDeadline)': { blob: 'cut', manifest: 503, sig: 503, sget: 503, message: /limits\.bodyDeadline/ },
    'endless drip (minBodyRate)': { blob: 'cut', manifest: 503, sig: 503, sget: 503, message: /limits\.minBodyRate/ },
  };

  let n = 0;
  const repoFor = (scope: 'open' | 'signed', what: string): string =>
    `${scope}/${what.replace(/[^a-z0-9]+/g, '-')}-${++n}`;

  for (const f of FAULTS) {
    const want = expected[f.name];
    assert.ok(want, f.name);
    const on = (): Daemon => daemon(f.via ?? 'main');
    // A safety bound, not a timing assertion: without body limits a drip holds the request open for ever.
    const bound = { timeout: 20_000 };

    test(`/v2/ blob, ${f.name}`, bound, async () => {
      const a = publish(fake, repoFor('open', 'blob'), 300_000);
      fake.route(a.blobPath, f.handler(a.data, 'application/octet-stream'));
      const r = await rawGet(`${on().sw.url}/v2/${HOST}/${a.repo}/blobs/${sha256(a.data)}`);
      if (want.blob === 'cut') assertRefusedOrCut(r, a.data, 503);
      else assertError(r, want.blob, want.message);
      await assertAlive(on());
    });

    test(`/v2/ manifest, ${f.name}`, bound, async () => {
      const a = publish(fake, repoFor('open', 'manifest'), 1000);
      fake.route(a.manifestPath, f.handler(a.manifest, OCI_MANIFEST));
      const r = await rawGet(`${on().sw.url}/v2/${HOST}/${a.repo}/manifests/${a.digest}`, { headers: ACCEPT });
      assertError(r, want.manifest, want.message);
      await assertAlive(on());
    });

    test(`signature lookup, .sig manifest: ${f.name}`, bound, async () => {
      const a = publish(fake, repoFor('signed', 'sigmanifest'), 1000);
      fake.route(a.sigManifestPath, f.handler(a.sigManifest, OCI_MANIFEST));
      const r = await rawGet(`${on().sw.url}/v2/${HOST}/${a.repo}/manifests/${a.digest}`, { headers: ACCEPT });
      assertError(r, want.sig, want.message);
      await assertAlive(on());
    });

    test(`signature lookup, .sig layer blob: ${f.name}`, bound, async () => {
      const a = publish(fake, repoFor('signed', 'siglayer'), 1000);
      fake.route(a.sigLayerPath, f.handler(a.sigLayer, 'application/octet-stream'));
      const r = await rawGet(`${on().sw.url}/v2/${HOST}/${a.repo}/manifests/${a.digest}`, { headers: ACCEPT });
      assertError(r, want.sig, want.message);
      await assertAlive(on());
    });

    for (const by of ['manifest digest', 'tag', 'blob digest'] as const) {
      test(`/sget/ by ${by}, ${f.name}`, bound, async () => {
        // Small: undici turns the destroy() of a body that has wholly arrived, unread, into an 'error' event.
        const a = publish(fake, repoFor(by === 'tag' ? 'signed' : 'open', `sget-${by}`), 2000);
        fake.route(a.blobPath, f.handler(a.data, 'application/octet-stream'));
        const ref = by === 'tag' ? `:v1` : by === 'manifest digest' ? `@${a.digest}` : `/blobs/${sha256(a.data)}`;
        const r = await rawGet(`${on().sw.url}/sget/${HOST}/${a.repo}${ref}`);
        // By blob digest there is no descriptor: a body that ends early with its announced length reads as whole
        // until its digest is checked.
        assertError(r, want.sget, want.message);
        assert.equal(r.body.indexOf(a.data.subarray(0, 32)), -1, 'no byte of the artifact');
        assert.deepEqual(storeFiles(on()), { blobs: [], tmp: [] });
        await assertAlive(on());
      });
    }
  }

  test('/sget/ of a manifest whose layer is one byte longer than its blob: 502, nothing stored', async () => {
    const d = daemon('main');
    for (const by of ['manifest digest', 'tag'] as const) {
      const a = publish(fake, repoFor(by === 'tag' ? 'signed' : 'open', 'longer'), 20_000, { declaredSize: 20_001 });
      const ref = by === 'tag' ? ':v1' : `@${a.digest}`;
      const r = await rawGet(`${d.sw.url}/sget/${HOST}/${a.repo}${ref}`);
      assertError(r, 502, /20000 bytes .* manifest says 20001/);
      assert.deepEqual(storeFiles(d), { blobs: [], tmp: [] });
      await assertAlive(d);
    }
  });

  test('/sget/ with too little free disk: 503 with the body released (by blob digest: after the upstream answered)', async () => {
    const d = daemon('full');
    for (const by of ['manifest digest', 'blob digest'] as const) {
      const a = publish(fake, repoFor('open', 'full'), 20_000);
      const ref = by === 'manifest digest' ? `@${a.digest}` : `/blobs/${sha256(a.data)}`;
      const r = await rawGet(`${d.sw.url}/sget/${HOST}/${a.repo}${ref}`);
      assertError(r, 503, /bytes free/);
      assert.equal(fake.hits(a.blobPath), by === 'manifest digest' ? 0 : 1);
      assert.deepEqual(storeFiles(d), { blobs: [], tmp: [] });
      await assertAlive(d);
    }
  });

  test('/sget/ while the store is busy with another download: 503, the body released, the other download unharmed', async () => {
    const d = daemon('small');
    // The held download takes nearly all of the 1 MiB store; the refused one is small enough to have wholly arrived.
    const held = publish(fake, repoFor('open', 'busy-held'), 1024 * 1024 - 10_000);
    let release!: () => void;
    const go = new Promise<void>((r) => (release = r));
    fake.route(held.blobPath, (_req, res) => {
      head(res, 200, 'application/octet-stream', held.data.length);
      res.write(held.data.subarray(0, 100_000));
      void go.then(() => res.end(held.data.subarray(100_000)));
    });
    const first = rawGet(`${d.sw.url}/sget/${HOST}/${held.repo}/blobs/${sha256(held.data)}`);
    const store = d.sw.app?.sget.store;
    assert.ok(store);
    await waitFor(async () => store.usage.reserved > 0, 'the first download to hold its room in the store');
    const b = publish(fake, repoFor('open', 'busy'), 20_000);
    const r = await rawGet(`${d.sw.url}/sget/${HOST}/${b.repo}/blobs/${sha256(b.data)}`);
    assertError(r, 503, /no room/);
    assert.equal(fake.hits(b.blobPath), 1);
    await assertAlive(d);
    release();
    const done = await first;
    assert.equal(done.status, 200);
    assert.ok(done.body.equals(held.data));
    // A checked download is served from tmp/ and moved into blobs/ once durable, in the background.
    await store.flush();
    const files = storeFiles(d);
    assert.equal(files.tmp.length, 0);
    assert.ok(!files.blobs.some((f) => f.includes(sha256(b.data).slice(7))), 'the refused download is not stored');
  });

  test('/sget/ when the spool file cannot be written: 503, the body released, nothing stored', async () => {
    const d = daemon('spoolfile');
    const store = d.sw.app?.sget.store;
    assert.ok(store);
    await store.ready();
    const tmp = join(d.cacheDir, 'sget', 'tmp');
    rmSync(tmp, { recursive: true });
    writeFileSync(tmp, 'not a directory\n');
    try {
      const a = publish(fake, repoFor('open', 'spoolfile'), 300_000);
      const r = await rawGet(`${d.sw.url}/sget/${HOST}/${a.repo}@${a.digest}`);
      assertError(r, 503, /cannot be used/);
      await assertAlive(d);
    } finally {
      rmSync(tmp);
      mkdirSync(tmp, { mode: 0o700 });
    }
    assert.deepEqual(storeFiles(d), { blobs: [], tmp: [] });
  });

  test('/sget/ with an unusable store directory: 503 before any upstream call; /v2/ unaffected', async () => {
    const d = daemon('unwritable');
    const a = publish(fake, repoFor('open', 'unwritable'), 20_000);
    const r = await rawGet(`${d.sw.url}/sget/${HOST}/${a.repo}@${a.digest}`);
    assertError(r, 503, /cannot be used/);
    assert.equal(fake.hits(a.blobPath), 0);
    await assertAlive(d);
  });
});
