// A trust root kept current by TUF (`trust.roots.<name>.tuf`), against a real TUF repository made in the test
// (test/helpers/tuf-repo.ts: tuf-js's metadata models, node:crypto keys, a plain http server on 127.0.0.1) whose
// `trusted_root.json` target is a test sigstore's root. Images are keylessly signed by that sigstore and served by a
// fake upstream. Proves:
// - the daemon process starts from the repository and verifies a keyless image (and refuses one of another root);
// - the repository rotates to a second sigstore's root: after a refresh, images of the new root verify, the old
//   root's are refused, the policy hash changed and no verdict made under the old root is reused, while a request
//   that started before the refresh finishes under the root it started with;
// - tampered metadata (a timestamp with a bad signature, an expired timestamp, a target that is not what targets.json
//   signed) is refused by the refresh: the current root is kept, and a warning says why;
// - the repository down at start: with a cache the daemon starts on it, saying how old it is; without one it refuses
//   to start, naming the URL, the cause and `trustedRoot:` for offline use;
// - check-config says which roots are pinned and which TUF-refreshed (URL, cache, last fetch) and fetches nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { SigwardApp } from '../../src/app.ts';
import { main } from '../../src/main.ts';
import type { TrustKeeper } from '../../src/tuf/keeper.ts';
import { createLogger } from '../../src/log.ts';
import { buildLegacySignatureImage } from '../../src/sign/legacy-image.ts';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { serveBlob, serveManifest, startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { buildImage, type TestImage } from '../helpers/images.ts';
import { removeTempDir, tempDir, waitFor } from '../helpers/proc.ts';
import { ociErrorOf, rawGet, type RawResponse } from '../helpers/raw-http.ts';
import { startSigward, startSigwardProcess, type RunningSigward } from '../helpers/sigward.ts';
import { createTestSigstore, type TestSigstore } from '../helpers/test-sigstore.ts';
import { startTufRepo, type Tampering, type TufRepo } from '../helpers/tuf-repo.ts';

const DEV = 'dev@example.com';
const GOOGLE = 'https://accounts.google.com';
const ROOT = new URL('../../', import.meta.url).pathname;
const TARGET = 'trusted_root.json';

const first = createTestSigstore();
const second = createTestSigstore();

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

describe('a trust root kept current by TUF', () => {
  let dir: string;
  let fake: FakeUpstream;
  let repo: TufRepo;
  let rootFile: string;
  let pinnedFile: string;
  const images = new Map<string, TestImage>();

  /** A keyless-signed image under example.test/tuf/<name>:v1 (a legacy `.sig` image logged in the sigstore's
   * Rekor); `hold` delays the answer for its signature until it resolves. */
  function signed(name: string, ss: TestSigstore, hold?: Promise<void>): TestImage {
    const repoName = `tuf/${name}`;
    const image = buildImage({ files: { 'hello.txt': `${name}\n` } });
    for (const ref of ['v1', image.digest]) {
      fake.route(`/v2/${repoName}/manifests/${ref}`, (req, res) =>
        serveManifest(res, image.bytes, image.mediaType, req.method),
      );
    }
    const payload = simpleSigningPayload({ dockerReference: `example.test/${repoName}`, digest: image.digest });
    const sig = ss.signLegacy({ payload, identity: DEV });
    const sigImage = buildLegacySignatureImage({
      layers: [{ payload, signature: sig.signature, annotations: sig.annotations }],
    });
    fake.route(`/v2/${repoName}/manifests/sha256-${image.digest.slice(7)}.sig`, (req, res) => {
      const answer = (): void =>
        serveManifest(res, Buffer.from(sigImage.manifest), sigImage.manifestMediaType, req.method);
      if (hold === undefined) answer();
      else void hold.then(answer);
    });
    for (const b of [sigImage.config, ...sigImage.layers]) {
      fake.route(`/v2/${repoName}/blobs/${b.digest}`, (_req, res) => serveBlob(res, Buffer.from(b.bytes)));
    }
    images.set(name, image);
    return image;
  }

  /** A config whose root `sigstore` is kept by `r` in `cacheDir`; a pinned root `pinned` beside it. */
  function config(r: TufRepo, cacheDir: string, refresh?: string): Record<string, unknown> {
    return {
      upstreams: [{ host: 'example.test', url: fake.url }],
      cache: { dir: join(dir, 'cache') },
      trust: {
        roots: {
          sigstore: { tuf: { url: r.url, rootFile, cacheDir, ...(refresh ? { refresh } : {}) } },
          pinned: { trustedRoot: pinnedFile },
        },
      },
      policy: {
        default: 'deny',
        policies: [
          {
            name: 'tuf',
            match: ['example.test/tuf/*'],
            root: 'sigstore',
            identities: [{ name: 'dev', issuer: GOOGLE, subject: DEV }],
          },
        ],
      },
    };
  }

  const pull = (sw: RunningSigward, name: string): Promise<RawResponse> =>
    rawGet(`${sw.url}/v2/example.test/tuf/${name}/manifests/v1`);

  /** Served: the image's own bytes (the policy denies by default: only a counted signature lets it through). */
  function assertServed(r: RawResponse, name: string, what: string): void {
    assert.equal(r.status, 200, `${what}: ${r.body.toString()}`);
    const image = images.get(name);
    assert.ok(image && r.body.equals(image.bytes), `${what}: the image's bytes`);
  }

  function assertUntrusted(r: RawResponse, what: string): void {
    assert.equal(r.status, 403, `${what}: ${r.body.toString()}`);
    assert.ok(ociErrorOf(r.body)?.message.includes(': not counted: untrusted-certificate: '), what);
  }

  /** A TUF repository of its own serving the first root, and an in-process sigward on it whose log lines are kept. */
  async function startOnOwnRepo(name: string): Promise<{
    r: TufRepo;
    sw: RunningSigward;
    logs: LogLine[];
    app: SigwardApp;
    trust: TrustKeeper;
  }> {
    const r = await startTufRepo({ [TARGET]: first.trustedRootJson });
    const pinned = join(dir, `${name}-root.json`);
    writeFileSync(pinned, r.rootJson);
    const cacheDir = join(dir, `tuf-${name}`);
    const logs: LogLine[] = [];
    const logger = createLogger('debug', { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
    const trust = { roots: { sigstore: { tuf: { url: r.url, rootFile: pinned, cacheDir } } } };
    const sw = await startSigward({ ...config(r, cacheDir), trust }, { logger });
    assert.ok(sw.app?.trust);
    return { r, sw, logs, app: sw.app, trust: sw.app.trust };
  }

  before(async () => {
    dir = tempDir('tuf-root');
    fake = await startFakeUpstream();
    repo = await startTufRepo({ [TARGET]: first.trustedRootJson });
    rootFile = join(dir, 'tuf-root.json');
    writeFileSync(rootFile, repo.rootJson);
    pinnedFile = join(dir, 'pinned.trusted_root.json');
    writeFileSync(pinnedFile, createTestSigstore().trustedRootJson);
    signed('first', first);
    signed('second', second);
  });

  after(async () => {
    await repo?.close();
    await fake?.stop();
    if (dir) removeTempDir(dir);
  });

  test('the daemon starts from the TUF repository and verifies a keyless image of its root', async () => {
    const sw = await startSigwardProcess(config(repo, join(dir, 'tuf-daemon')));
    try {
      assertServed(await pull(sw, 'first'), 'first', 'signed by the root the repository serves');
      assertUntrusted(await pull(sw, 'second'), 'signed by another root');
      assert.ok(repo.requests.includes('/timestamp.json'), 'the repository was asked');
      assert.ok(
        repo.requests.some((p) => p.endsWith(`.${TARGET}`)),
        'the target was downloaded',
      );
      const log = readFileSync(sw.logFile as string, 'utf8');
      assert.match(log, /"msg":"trust root fetched through TUF"/);
    } finally {
      await sw.stop();
    }
  });

  test('the repository rotates to a new root: after a refresh its images verify, the policy hash changed, old verdicts are not reused, and a request in flight finishes on the old root', async () => {
    let release = (): void => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    signed('in-flight', first, held);
    const { r, sw, logs, app, trust } = await startOnOwnRepo('rotate');
    try {
      const before = app.gate.policyHash;
      assertServed(await pull(sw, 'first'), 'first', 'before the rotation: the first root');
      assertUntrusted(await pull(sw, 'second'), 'before the rotation: the second root');
      // A pull whose signature lookup is under way when the root changes.
      const inFlight = pull(sw, 'in-flight');
      await waitFor(
        async () => fake.log.some((l) => l.startsWith('GET /v2/tuf/in-flight/manifests/sha256-')),
        'the in-flight pull asked for its signature',
      );

      r.publish({ [TARGET]: second.trustedRootJson });
      const [report] = await trust.refreshNow();
      assert.equal(report?.outcome, 'changed');
      assert.notEqual(app.gate.policyHash, before, 'the policy hash changed');
      assert.equal(report?.policyHash, app.gate.policyHash);
      const updated = logs.find((l) => l.msg === 'trust root updated through TUF: new verifications use it');
      assert.equal(updated?.['previousPolicyHash'], before);
      assert.equal(updated?.['policyHash'], app.gate.policyHash);

      release();
      assertServed(await inFlight, 'in-flight', 'the request in flight finished on the root it started with');
      assertServed(await pull(sw, 'second'), 'second', 'after the rotation: the second root');
      assertUntrusted(await pull(sw, 'first'), 'after the rotation: the first root (its cached verdict not reused)');
      assertUntrusted(await pull(sw, 'in-flight'), 'after the rotation: asked again');

      // Nothing new in the repository: the refresh changes nothing.
      const [again] = await trust.refreshNow();
      assert.equal(again?.outcome, 'unchanged');
      assert.equal(again?.policyHash, app.gate.policyHash);
    } finally {
      await sw.stop();
      await r.close();
    }
  });

  const TAMPERINGS: readonly [Tampering, RegExp][] = [
    ['bad-signature', /timestamp was signed by 0\/1 keys/],
    ['expired', /timestamp\.json is expired/],
    ['target-mismatch', /Expected hash [0-9a-f]{64} but got [0-9a-f]{64}/],
  ];

  test('tampered TUF metadata: the refresh is refused, the current root kept, a warning logged', async () => {
    const { r, sw, logs, app, trust } = await startOnOwnRepo('tamper');
    try {
      const hash = app.gate.policyHash;
      for (const [how, why] of TAMPERINGS) {
        r.publishTampered(how, { [TARGET]: second.trustedRootJson });
        const [report] = await trust.refreshNow();
        assert.equal(report?.outcome, 'failed', how);
        assert.match(report?.why ?? '', why, how);
        assert.equal(app.gate.policyHash, hash, `${how}: the policy is unchanged`);
        const warning = logs.findLast((l) => l.msg === 'trust root refresh failed: keeping the current root');
        assert.equal(warning?.level, 40, `${how}: logged as a warning`);
        assert.match(String(warning?.['why']), why, how);
        assertServed(await pull(sw, 'first'), 'first', `${how}: the current root still verifies`);
        assertUntrusted(await pull(sw, 'second'), `${how}: the root of the tampered metadata is not trusted`);
      }
      // The repository set right again: the same client takes the new root (nothing tampered was kept).
      r.publish({ [TARGET]: second.trustedRootJson });
      const [report] = await trust.refreshNow();
      assert.equal(report?.outcome, 'changed');
      assertServed(await pull(sw, 'second'), 'second', 'after a good release');
    } finally {
      await sw.stop();
      await r.close();
    }
  });

  test('the repository down at start: the daemon starts on the verified cache and says how old it is', async () => {
    const r = await startTufRepo({ [TARGET]: first.trustedRootJson });
    const cfg = config(r, join(dir, 'tuf-cached'));
    const pinned = join(dir, 'cached-root.json');
    writeFileSync(pinned, r.rootJson);
    const trust = { roots: { sigstore: { tuf: { url: r.url, rootFile: pinned, cacheDir: join(dir, 'tuf-cached') } } } };
    // A first run fills the cache; then the repository is cut off.
    const warm = await startSigward({ ...cfg, trust });
    await warm.stop();
    r.down = true;
    const asked = r.requests.length;
    const sw = await startSigwardProcess({ ...cfg, trust });
    try {
      assert.ok(r.requests.length > asked, 'the daemon tried the repository first');
      assertServed(await pull(sw, 'first'), 'first', 'verified with the cached root');
      const lines = readFileSync(sw.logFile as string, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as LogLine);
      const warning = lines.find((l) => l.msg.startsWith('TUF repository not usable: starting with the cached'));
      assert.equal(warning?.level, 40, 'a warning');
      assert.match(warning?.msg ?? '', /cached trusted root of \d{4}-\d\d-\d\dT[\d:.]+Z \(\d+s old\)$/);
      assert.match(String(warning?.['why']), /fetch failed/);
    } finally {
      await sw.stop();
      await r.close();
    }
  });

  test('the repository down at start without a cache: sigward refuses to start, naming the URL, the cause and trustedRoot', async () => {
    const r = await startTufRepo({ [TARGET]: first.trustedRootJson });
    r.down = true;
    const cacheDir = join(dir, 'tuf-empty');
    const file = join(dir, 'down.yaml');
    const cfg = config(r, cacheDir);
    writeFileSync(file, stringify(cfg));
    try {
      const run = promisify(execFile)(
        process.execPath,
        [join(ROOT, 'bin/sigward.mjs'), 'serve', '--config', file, '--listen', '127.0.0.1:0'],
        { cwd: ROOT },
      );
      const failed = await run.then(
        () => assert.fail('sigward started'),
        (e: { code?: number; stderr?: string }) => e,
      );
      assert.equal(failed.code, 1);
      const err = failed.stderr ?? '';
      assert.ok(
        err.includes(
          `sigward serve: trust root "sigstore": cannot get its trusted_root.json from the TUF repository ${r.url} (`,
        ),
        err,
      );
      assert.match(err, /fetch failed: other side closed/, 'the cause');
      assert.ok(err.includes(`no usable cached copy in ${cacheDir} (no TUF metadata from an earlier fetch in `), err);
      assert.ok(err.includes('trust.roots.sigstore: { trustedRoot: /path/to/trusted_root.json }'), err);
      assert.ok(r.requests.length > 0, 'it did try the repository');
    } finally {
      await r.close();
    }
  });

  test('check-config: pinned and TUF-refreshed roots, the last fetch when cached; no network', async () => {
    const r = await startTufRepo({ [TARGET]: first.trustedRootJson });
    const pinned = join(dir, 'check-root.json');
    writeFileSync(pinned, r.rootJson);
    const cacheDir = join(dir, 'tuf-check');
    const cfg = {
      ...config(r, cacheDir),
      trust: {
        roots: {
          sigstore: { tuf: { url: r.url, rootFile: pinned, cacheDir, refresh: '6h' } },
          pinned: { trustedRoot: pinnedFile },
        },
      },
    };
    const file = join(dir, 'check.yaml');
    writeFileSync(file, stringify(cfg));
    const check = async (): Promise<string[]> => {
      const out: string[] = [];
      const err: string[] = [];
      const asked = r.requests.length;
      const code = await main(['check-config', file], { out: (l) => out.push(l), err: (l) => err.push(l), env: {} });
      assert.equal(code, 0, err.join('\n'));
      assert.equal(r.requests.length, asked, 'check-config contacted the repository');
      return out.filter((l) => l.startsWith('trust root '));
    };
    const head = `trust root sigstore: TUF-refreshed online from ${r.url} every 6h (initial root.json ${pinned}, cache ${cacheDir})`;
    const pinnedLine = (): string => {
      const sha = createHashHex(readFileSync(pinnedFile, 'utf8')).slice(0, 12);
      return `trust root pinned: 1 Fulcio CA(s), 1 CT log(s), 1 Rekor log(s), 1 timestamp authority(ies); pinned trusted_root.json, verified offline (sha256 ${sha})`;
    };
    try {
      assert.deepEqual(await check(), [
        `${head}; not fetched yet: the daemon fetches it at start, or refuses to start`,
        pinnedLine(),
      ]);
      // The daemon's fetch (in process) fills the cache; check-config then shows it, still without the network.
      const sw = await startSigward(cfg);
      await sw.stop();
      r.down = true;
      const [tufLine, pinnedAgain] = await check();
      const sha = createHashHex(first.trustedRootJson).slice(0, 12);
      assert.match(
        tufLine ?? '',
        new RegExp(
          `^${escape(head)}; last fetched \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\((\\d+s|\\d+ms) ago\\): 1 Fulcio CA\\(s\\), 1 CT log\\(s\\), 1 Rekor log\\(s\\), 1 timestamp authority\\(ies\\) \\(sha256 ${sha}\\)$`,
        ),
      );
      assert.equal(pinnedAgain, pinnedLine());
    } finally {
      await r.close();
    }
  });
});

function createHashHex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
