// Reloading the configuration of a running `sigward serve` (a child process, as users run it) in front of a real
// distribution registry: `sigward reload` and SIGHUP apply a changed file; a policy change decides the next request;
// an unchanged policy hash keeps its verdicts (the registry's access log shows no signature fetched again); a bad
// file (YAML error, missing key file) changes nothing and is reported (exit 1, the reason, the log, /readyz, the
// metrics); a request in flight finishes on the generation it started on, which closes after it; TUF-kept trust roots
// are obtained again (repository, else verified cache, else the reload is refused).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { buildImage, pushImage } from '../helpers/images.ts';
import { newKey, signLegacy } from '../helpers/cosign.ts';
import { startSigwardProcess, type RunningSigward } from '../helpers/sigward.ts';
import { sigwardInProcess } from '../helpers/cli-process.ts';
import { freePort, removeTempDir, tempDir, waitFor } from '../helpers/proc.ts';
import { serveBlob, sha256, startFakeUpstream } from '../helpers/fake-upstream.ts';
import { createTestSigstore } from '../helpers/test-sigstore.ts';
import { startTufRepo, type TufRepo } from '../helpers/tuf-repo.ts';
import type { ReadinessReport, ReloadStatus } from '../../src/http/readiness.ts';

const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';

type Report = ReadinessReport & { reload: ReloadStatus };

async function readyz(sw: RunningSigward): Promise<Report> {
  const res = await fetch(`${sw.url}/readyz`);
  return (await res.json()) as Report;
}

async function pull(sw: RunningSigward, repo: string, ref: string) {
  const res = await fetch(`${sw.url}/v2/example.test/${repo}/manifests/${ref}`, { headers: { accept: ACCEPT } });
  const body = await res.text();
  const error = res.status === 200 ? undefined : (JSON.parse(body) as { errors: { code: string }[] }).errors[0];
  return { status: res.status, policy: res.headers.get('x-sigward-policy'), code: error?.code, body };
}

function reload(sw: RunningSigward, ...extra: string[]) {
  return sigwardInProcess(['reload', '--url', sw.url, '--config', sw.configFile, ...extra]);
}

describe('reload against a real registry', () => {
  let reg: Registry;
  let sw: RunningSigward;
  let dir: string;
  let keyFile: string;
  let signedDigest: string;
  const alice = newKey('alice');

  const config = (opts: { level?: string; open?: boolean; keyFile?: string; cache?: object } = {}) => ({
    log: { level: opts.level ?? 'info' },
    metrics: { listen: 'main' },
    upstreams: [{ host: 'example.test', url: reg.url, default: true }],
    trust: { keys: { alice: { file: opts.keyFile ?? keyFile } } },
    ...(opts.cache ? { cache: opts.cache } : {}),
    policy: {
      default: 'deny',
      policies: [
        { name: 'apps', match: ['example.test/apps/*'], keys: ['alice'] },
        ...(opts.open ? [{ name: 'open', match: ['example.test/open/*'], allow: 'unsigned' }] : []),
      ],
    },
  });
  const write = (c: object | string): void => writeFileSync(sw.configFile, typeof c === 'string' ? c : stringify(c));
  const registryLog = (): string => readFileSync(reg.logFile, 'utf8');
  /** The registry's access log lines that fetched the signed image's `.sig` manifest. */
  const sigFetches = (): number =>
    registryLog()
      .split('\n')
      .filter((l) => l.includes(`/v2/apps/signed/manifests/sha256-${signedDigest.slice(7)}.sig`)).length;
  /** A request straight to the registry, waited for in its log: lines written before it are in. */
  let marks = 0;
  const logSettled = async (): Promise<void> => {
    const mark = `/v2/mark-${++marks}/tags/list`;
    await fetch(`${reg.url}${mark}`).then((r) => r.arrayBuffer());
    await waitFor(async () => Promise.resolve(registryLog().includes(mark)), 'the registry log');
  };
  const daemonLog = (): string => readFileSync(sw.logFile as string, 'utf8');
  /** One sample of the daemon's /metrics. */
  const metric = async (name: string): Promise<number | undefined> => {
    const text = await (await fetch(`${sw.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.slice(name.length + 1));
  };

  before(async () => {
    reg = await startRegistry();
    dir = tempDir('reload');
    keyFile = join(dir, 'alice.pub');
    writeFileSync(keyFile, alice.publicPem);
    const signed = buildImage({ files: { 'app.txt': 'signed by alice\n' } });
    signedDigest = await pushImage(reg, 'apps/signed', 'v1', signed);
    await signLegacy(reg, 'apps/signed', signedDigest, { keys: [alice] });
    await pushImage(reg, 'open/app', 'v1', buildImage({ files: { 'app.txt': 'unsigned\n' } }));
    sw = await startSigwardProcess(config());
  });
  after(async () => {
    await sw?.stop();
    await reg?.stop();
    removeTempDir(dir);
  });

  test('a policy change decides the next request; an unchanged policy hash keeps its verdicts', async () => {
    const start = await readyz(sw);
    assert.equal(start.config?.generation, 1);
    assert.equal(start.reload.pid > 1, true);
    assert.equal(start.reload.requests, 0);
    assert.equal(start.reload.last, undefined);
    assert.equal((await pull(sw, 'open/app', 'v1')).code, 'DENIED');
    const first = await pull(sw, 'apps/signed', 'v1');
    assert.deepEqual([first.status, first.policy], [200, 'apps'], first.body);
    await logSettled();
    const fetched = sigFetches();
    assert.ok(fetched >= 1, 'the signature was fetched to verify');

    // Only the log level changes: same policy hash, the verdict is reused.
    write(config({ level: 'debug' }));
    const same = await reload(sw);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /^reloaded: generation 2, policy [0-9a-f]{12}\n$/);
    const afterSame = await readyz(sw);
    assert.equal(afterSame.config?.generation, 2);
    assert.equal(afterSame.config?.policyHash, start.config?.policyHash);
    assert.equal(afterSame.reload.last?.ok, true);
    assert.equal(afterSame.reload.last?.request, 1);
    const again = await pull(sw, 'apps/signed', 'v1');
    assert.deepEqual([again.status, again.policy], [200, 'apps']);
    await logSettled();
    assert.equal(sigFetches(), fetched, 'no signature fetched again under the unchanged policy');

    // A new policy: the next request is decided by it; the old verdicts are not reused under the new hash.
    write(config({ open: true }));
    const changed = await reload(sw);
    assert.equal(changed.code, 0, changed.stderr);
    const afterChange = await readyz(sw);
    assert.equal(afterChange.config?.generation, 3);
    assert.notEqual(afterChange.config?.policyHash, start.config?.policyHash);
    const open = await pull(sw, 'open/app', 'v1');
    assert.deepEqual([open.status, open.policy], [200, 'open'], open.body);
    assert.equal((await pull(sw, 'apps/signed', 'v1')).status, 200);
    await logSettled();
    assert.ok(sigFetches() > fetched, 'verified again under the new policy hash');
    assert.match(daemonLog(), /"msg":"configuration reloaded: new requests use it/);
    assert.equal(await metric('sigward_config_generation'), 3);
    assert.equal(await metric('sigward_config_reloads_total{result="success"}'), 2);
  });

  test('a bad config keeps the current one serving; sigward reload exits 1 with the reason; the log says why', async () => {
    write(config({ open: true }));
    assert.equal((await reload(sw)).code, 0);
    const good = await readyz(sw);

    write('policy: [\n');
    const yamlError = await reload(sw);
    assert.equal(yamlError.code, 1, yamlError.stderr);
    assert.match(yamlError.stderr, /refused the new configuration and keeps serving generation \d+/);
    assert.ok(yamlError.stderr.includes(`${sw.configFile}:2: (yaml):`), yamlError.stderr);
    let now = await readyz(sw);
    assert.equal(now.config?.generation, good.config?.generation);
    assert.equal(now.config?.policyHash, good.config?.policyHash);
    assert.equal(now.reload.last?.ok, false);
    assert.ok(now.reload.last?.error?.includes('(yaml)'), now.reload.last?.error);
    assert.equal((await pull(sw, 'open/app', 'v1')).status, 200, 'the old policy still decides');

    const missing = join(dir, 'no-such-key.pub');
    write(config({ open: true, keyFile: missing }));
    const keyError = await reload(sw);
    assert.equal(keyError.code, 1, keyError.stderr);
    assert.ok(keyError.stderr.includes(`file not found: ${missing}`), keyError.stderr);
    now = await readyz(sw);
    assert.equal(now.config?.generation, good.config?.generation);
    assert.equal((await pull(sw, 'open/app', 'v1')).status, 200);
    assert.equal((await pull(sw, 'apps/signed', 'v1')).status, 200);
    const refusals = daemonLog()
      .split('\n')
      .filter((l) => l.includes('"msg":"configuration reload refused: the current configuration stays in force"'));
    assert.equal(refusals.length, 2);
    assert.ok(refusals[1]?.includes(`file not found: ${missing}`), refusals[1]);
    assert.equal(await metric('sigward_config_reloads_total{result="failure"}'), 2);
    assert.equal(await metric('sigward_config_last_reload_success'), 0);
    assert.equal(await metric('sigward_config_generation'), good.config?.generation);

    write(config({ open: true }));
    const fixed = await reload(sw);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.equal((await readyz(sw)).config?.generation, (good.config?.generation ?? 0) + 1);
  });

  test('SIGHUP to the daemon reloads the file', async () => {
    const before = await readyz(sw);
    write(config());
    process.kill(before.reload.pid, 'SIGHUP');
    let now = before;
    await waitFor(async () => {
      now = await readyz(sw);
      return now.reload.last !== undefined && now.reload.last.request > before.reload.requests;
    }, 'the reload after SIGHUP');
    assert.equal(now.reload.last?.ok, true, now.reload.last?.error);
    assert.equal(now.config?.generation, (before.config?.generation ?? 0) + 1);
    assert.equal((await pull(sw, 'open/app', 'v1')).code, 'DENIED', 'the policy without `open` decides');
    assert.match(daemonLog(), /"signal":"SIGHUP".*"msg":"reload requested"/);
  });

  test('settings a reload cannot change are reported and keep their value until a restart', async () => {
    write(config({ cache: { denyTtl: '5s', dir: join(dir, 'other-cache') } }));
    const r = await reload(sw);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /need a restart to apply \(their old values stay in force\): cache\.dir, cache\.denyTtl\n$/);
    const now = await readyz(sw);
    assert.deepEqual(now.reload.last?.restartNeeded, ['cache.dir', 'cache.denyTtl']);
    assert.notEqual(now.store.dir, join(dir, 'other-cache', 'sget'), 'the store stays where it was');
    assert.match(daemonLog(), /"restartNeeded":\["cache.dir","cache.denyTtl"\]/);
  });

  test('sigward reload: exit 2 on usage errors, with no daemon, and for a daemon running another file', async () => {
    const usage = await sigwardInProcess(['reload']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /give --config FILE or --url URL/);
    assert.equal((await sigwardInProcess(['reload', '--url', 'ftp://127.0.0.1/'])).code, 2);
    const port = await freePort();
    const none = await sigwardInProcess(['reload', '--url', `http://127.0.0.1:${port}`]);
    assert.equal(none.code, 2);
    assert.match(
      none.stderr,
      new RegExp(`no sigward daemon answers at http://127\\.0\\.0\\.1:${port}/readyz: ECONNREFUSED`),
    );
    const other = join(dir, 'other.yaml');
    writeFileSync(other, stringify(config()));
    const before = (await readyz(sw)).reload.requests;
    const wrong = await sigwardInProcess(['reload', '--url', sw.url, '--config', other]);
    assert.equal(wrong.code, 2);
    assert.ok(wrong.stderr.includes(`runs ${sw.configFile}, not ${other}: not signalling it`), wrong.stderr);
    // The registry is not a sigward daemon: nothing is signalled.
    const foreign = await sigwardInProcess(['reload', '--url', reg.url]);
    assert.equal(foreign.code, 2);
    assert.equal((await readyz(sw)).reload.requests, before, 'no reload was requested');
  });
});

describe('reload with a request in flight', () => {
  test('the in-flight blob finishes on its generation, which closes after it; new requests use the new one', async () => {
    const blob = randomBytes(256 * 1024);
    const digest = sha256(blob);
    const path = `/v2/app/blobs/${digest}`;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    const oldUpstream = await startFakeUpstream();
    const newUpstream = await startFakeUpstream();
    // The old upstream answers once the test releases it: until then the request is in flight in sigward.
    oldUpstream.route(path, (_req, res) => {
      arrived();
      void released.then(() => serveBlob(res, blob));
    });
    newUpstream.route(path, (_req, res) => serveBlob(res, blob));
    const config = (url: string) => ({
      log: { level: 'info' },
      upstreams: [{ host: 'example.test', url, default: true, timeouts: { headers: '60s', body: '60s' }, retries: 0 }],
      policy: { default: 'allow' },
    });
    const sw = await startSigwardProcess(config(oldUpstream.url));
    try {
      const inFlight = fetch(`${sw.url}/v2/example.test/app/blobs/${digest}`).then(async (r) => ({
        status: r.status,
        body: Buffer.from(await r.arrayBuffer()),
      }));
      await reached;

      writeFileSync(sw.configFile, stringify(config(newUpstream.url)));
      const r = await sigwardInProcess(['reload', '--url', sw.url, '--config', sw.configFile]);
      assert.equal(r.code, 0, r.stderr);
      const log = (): string => readFileSync(sw.logFile as string, 'utf8');
      assert.doesNotMatch(log(), /previous configuration generation closed/, 'generation 1 still has a request');

      const fresh = await fetch(`${sw.url}/v2/example.test/app/blobs/${digest}`);
      assert.equal(fresh.status, 200);
      assert.ok(Buffer.from(await fresh.arrayBuffer()).equals(blob));
      assert.deepEqual(
        [oldUpstream.hits(path), newUpstream.hits(path)],
        [1, 1],
        'the new request used the new upstream',
      );

      release();
      const got = await inFlight;
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(blob), 'the in-flight blob arrived whole from the old upstream');
      await waitFor(
        async () => Promise.resolve(/"generation":1,.*"msg":"previous configuration generation closed/.test(log())),
        'generation 1 closed',
      );
    } finally {
      release();
      await sw.stop();
      await oldUpstream.stop();
      await newUpstream.stop();
    }
  });
});

describe('reload with a TUF-kept trust root', () => {
  const first = createTestSigstore();
  const second = createTestSigstore();
  let repo: TufRepo;
  let sw: RunningSigward;
  let dir: string;

  const dev = { name: 'dev', issuer: 'https://accounts.google.com', subject: 'dev@example.com' };
  const keyless = { name: 'keyless', match: ['example.test/keyless/*'], root: 'sigstore', identities: [dev] };
  const config = (cacheDir: string) => ({
    log: { level: 'info' },
    upstreams: [{ host: 'example.test', url: 'http://127.0.0.1:9', default: true }],
    trust: { roots: { sigstore: { tuf: { url: repo.url, rootFile: join(dir, 'root.json'), cacheDir } } } },
    policy: { default: 'deny', policies: [keyless] },
  });

  before(async () => {
    dir = tempDir('reload-tuf');
    repo = await startTufRepo({ 'trusted_root.json': first.trustedRootJson });
    writeFileSync(join(dir, 'root.json'), repo.rootJson);
    mkdirSync(join(dir, 'tuf-a'));
    mkdirSync(join(dir, 'tuf-b'));
    sw = await startSigwardProcess(config(join(dir, 'tuf-a')));
  });
  after(async () => {
    await sw?.stop();
    await repo?.close();
    removeTempDir(dir);
  });

  test('a reload gets the trust roots again: refused when they cannot be had, applied from the verified cache, and a new root changes the policy', async () => {
    const start = await readyz(sw);
    repo.down = true;
    writeFileSync(sw.configFile, stringify(config(join(dir, 'tuf-b'))));
    const unavailable = await reload(sw);
    assert.equal(unavailable.code, 1, unavailable.stderr);
    assert.ok(
      unavailable.stderr.includes('trust root "sigstore": cannot get its trusted_root.json from the TUF repository'),
      unavailable.stderr,
    );
    assert.equal((await readyz(sw)).config?.generation, start.config?.generation);

    writeFileSync(sw.configFile, stringify(config(join(dir, 'tuf-a'))));
    const cached = await reload(sw);
    assert.equal(cached.code, 0, cached.stderr);
    const fromCache = await readyz(sw);
    assert.equal(fromCache.config?.policyHash, start.config?.policyHash, 'the same root, from its verified cache');
    assert.match(
      readFileSync(sw.logFile as string, 'utf8'),
      /TUF repository not usable: starting with the cached trusted root/,
    );

    repo.down = false;
    repo.publish({ 'trusted_root.json': second.trustedRootJson });
    const updated = await reload(sw);
    assert.equal(updated.code, 0, updated.stderr);
    const now = await readyz(sw);
    assert.equal(now.config?.generation, (fromCache.config?.generation ?? 0) + 1);
    assert.notEqual(now.config?.policyHash, start.config?.policyHash, 'the new trusted root is in the policy');
  });
});
