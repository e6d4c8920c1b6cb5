// 20 reloads of a running `sigward serve` (a child process) under continuous concurrent pulls from a real
// distribution registry: manifests by tag and by digest and blobs, over keep-alive connections. The two configs
// alternate (log level and one policy differ): no request fails, every answer is one of the two policies' decisions,
// every byte is the registry's, and all 20 reloads are applied.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { buildImage, pushImage, sha256, type TestImage } from '../helpers/images.ts';
import { newKey, signLegacy } from '../helpers/cosign.ts';
import { startSigwardProcess, type RunningSigward } from '../helpers/sigward.ts';
import { sigwardInProcess } from '../helpers/cli-process.ts';
import { removeTempDir, tempDir, waitFor } from '../helpers/proc.ts';
import type { ReadinessReport, ReloadStatus } from '../../src/http/readiness.ts';

const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';
const RELOADS = 20;
const WORKERS = 6;
/** Answers received between two reloads, so each generation serves load while the next is loaded. */
const ANSWERS_PER_GENERATION = 12;

let reg: Registry;
let sw: RunningSigward;
let dir: string;
let signed: TestImage;
let open: TestImage;
const alice = newKey('alice');

const config = (withOpen: boolean, keyFile: string) => ({
  log: { level: withOpen ? 'warn' : 'info' },
  upstreams: [{ host: 'example.test', url: reg.url, default: true }],
  trust: { keys: { alice: { file: keyFile } } },
  policy: {
    default: 'deny',
    policies: [
      { name: 'apps', match: ['example.test/apps/*'], keys: ['alice'] },
      ...(withOpen ? [{ name: 'open', match: ['example.test/open/*'], allow: 'unsigned' }] : []),
    ],
  },
});

before(async () => {
  reg = await startRegistry({ accessLog: false });
  dir = tempDir('reload-load');
  const keyFile = `${dir}/alice.pub`;
  writeFileSync(keyFile, alice.publicPem);
  signed = buildImage({ files: { 'app.txt': 'signed by alice\n' } });
  open = buildImage({ files: { 'app.txt': 'not signed\n' } });
  await pushImage(reg, 'apps/signed', 'v1', signed);
  await signLegacy(reg, 'apps/signed', signed.digest, { keys: [alice] });
  await pushImage(reg, 'open/app', 'v1', open);
  sw = await startSigwardProcess(config(false, keyFile));
});
after(async () => {
  await sw?.stop();
  await reg?.stop();
  removeTempDir(dir);
});

interface Pull {
  readonly what: string;
  readonly path: string;
  readonly bytes: Buffer;
  /** The repository's policy when `open` is in force / when it is not ('deny': refused by the default). */
  readonly policies: readonly ('apps' | 'open' | 'deny')[];
  readonly manifest: boolean;
}

function pulls(): Pull[] {
  const out: Pull[] = [];
  for (const [repo, img, policies] of [
    ['apps/signed', signed, ['apps']],
    ['open/app', open, ['open', 'deny']],
  ] as const) {
    const base = `/v2/example.test/${repo}`;
    out.push({ what: `${repo}:v1`, path: `${base}/manifests/v1`, bytes: img.bytes, policies, manifest: true });
    out.push({
      what: `${repo}@digest`,
      path: `${base}/manifests/${img.digest}`,
      bytes: img.bytes,
      policies,
      manifest: true,
    });
    for (const [digest, blob] of img.blobs) {
      const bytes = Buffer.from(blob as Uint8Array);
      assert.equal(sha256(bytes), digest);
      out.push({ what: `${repo} blob`, path: `${base}/blobs/${digest}`, bytes, policies: [], manifest: false });
    }
  }
  return out;
}

test(`${RELOADS} reloads under concurrent pulls: no failed request, every decision one of the two policies'`, async (t) => {
  const keyFile = `${dir}/alice.pub`;
  const agent = new Agent({ connections: WORKERS, keepAliveTimeout: 60_000 });
  const all = pulls();
  const failures: string[] = [];
  const seen = new Map<string, number>();
  let answered = 0;
  let stop = false;

  const one = async (p: Pull): Promise<void> => {
    let r;
    try {
      r = await request(`${sw.url}${p.path}`, { dispatcher: agent, headers: { accept: ACCEPT } });
    } catch (e) {
      failures.push(`${p.what}: ${(e as Error).message}`);
      return;
    }
    const body = Buffer.from(await r.body.arrayBuffer());
    answered++;
    const policy = r.headers['x-sigward-policy'];
    let outcome: string;
    if (r.statusCode === 200 && body.equals(p.bytes)) outcome = p.manifest ? `200 ${String(policy)}` : '200 blob';
    else if (r.statusCode === 403) {
      const err = (JSON.parse(body.toString()) as { errors: { code: string; detail?: { outcome?: string } }[] })
        .errors[0];
      outcome = `403 ${err?.code} ${String(err?.detail?.outcome)}`;
    } else outcome = `${r.statusCode} (${body.length} bytes)`;
    seen.set(`${p.what} ${outcome}`, (seen.get(`${p.what} ${outcome}`) ?? 0) + 1);
    const expected = !p.manifest
      ? ['200 blob']
      : p.policies.map((x) => (x === 'deny' ? '403 DENIED no-policy' : `200 ${x}`));
    if (!expected.includes(outcome)) failures.push(`${p.what}: ${outcome}, expected one of ${expected.join(' | ')}`);
  };
  const worker = async (w: number): Promise<void> => {
    for (let i = w; !stop; i++) await one(all[i % all.length] as Pull);
  };

  // The default's refusal (outcome no-policy), read once before the load starts.
  const probe = await request(`${sw.url}/v2/example.test/open/app/manifests/v1`, { headers: { accept: ACCEPT } });
  const probeBody = JSON.parse(await probe.body.text()) as { errors: { detail?: { outcome?: string } }[] };
  assert.equal(probe.statusCode, 403);
  assert.equal(probeBody.errors[0]?.detail?.outcome, 'no-policy', JSON.stringify(probeBody));

  const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
  const codes: number[] = [];
  try {
    for (let n = 1; n <= RELOADS; n++) {
      const mark = answered;
      await waitFor(async () => Promise.resolve(answered >= mark + ANSWERS_PER_GENERATION), 'answers under load');
      writeFileSync(sw.configFile, stringify(config(n % 2 === 1, keyFile)));
      const r = await sigwardInProcess(['reload', '--url', sw.url, '--config', sw.configFile]);
      codes.push(r.code);
      assert.equal(r.code, 0, r.stderr);
    }
    const mark = answered;
    await waitFor(async () => Promise.resolve(answered >= mark + ANSWERS_PER_GENERATION), 'answers after the last');
  } finally {
    stop = true;
    await Promise.all(workers);
    await agent.close();
  }

  t.diagnostic(`${answered} answers, ${failures.length} failed, ${RELOADS} reloads`);
  assert.deepEqual(failures, [], [...seen].map(([k, v]) => `${k}: ${v}`).join('\n'));
  assert.deepEqual(codes, Array<number>(RELOADS).fill(0));
  const ready = (await (await fetch(`${sw.url}/readyz`)).json()) as ReadinessReport & { reload: ReloadStatus };
  assert.equal(ready.reload.requests, RELOADS);
  assert.equal(ready.reload.last?.ok, true);
  assert.equal(ready.config?.generation, RELOADS + 1);
  // Both policies decided requests of the open repository during the run; each image and blob was served.
  assert.ok((seen.get('open/app:v1 200 open') ?? 0) > 0, 'served under the config with `open`');
  assert.ok((seen.get('open/app:v1 403 DENIED no-policy') ?? 0) > 0, 'refused under the config without it');
  assert.ok((seen.get('apps/signed@digest 200 apps') ?? 0) > 0);
  assert.ok((seen.get('apps/signed blob 200 blob') ?? 0) > 0);
  assert.ok(answered > RELOADS * ANSWERS_PER_GENERATION);
  // The last config has no `open` policy: it decides now.
  const last = await request(`${sw.url}/v2/example.test/open/app/manifests/v1`, { headers: { accept: ACCEPT } });
  await last.body.arrayBuffer();
  assert.equal(last.statusCode, 403);
});
