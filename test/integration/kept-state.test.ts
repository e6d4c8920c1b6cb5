// State kept across restarts (`<cache.dir>/state`): a restart is the app closed and a new one made on the same
// cache.dir (one test restarts a real `sigward serve` process). After it, a platform manifest covered by an index
// verified before is served by digest without any upstream request, a signed tag is not verified again within
// allowTtl; a changed policy uses none of it; changed, foreign or cut state files admit nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { buildImage, buildMultiArch, OCI_INDEX, OCI_MANIFEST, pushImage, type TestImage } from '../helpers/images.ts';
import { startSigward, startSigwardProcess, type RunningSigward } from '../helpers/sigward.ts';
import { newKey, signLegacy } from '../helpers/cosign.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';
import { createLogger } from '../../src/log.ts';
import { sealLine } from '../../src/state/journal.ts';

const ACCEPT = `${OCI_MANIFEST}, ${OCI_INDEX}`;

interface Pulled {
  status: number;
  body: Buffer;
  outcome: string | undefined;
}

async function pull(sw: RunningSigward, repo: string, ref: string): Promise<Pulled> {
  const r = await request(`${sw.url}/v2/example.test/${repo}/manifests/${ref}`, { headers: { accept: ACCEPT } });
  const body = Buffer.from(await r.body.arrayBuffer());
  const outcome = r.headers['x-sigward-outcome'];
  return { status: r.statusCode, body, outcome: typeof outcome === 'string' ? outcome : undefined };
}

/** Log lines (parsed) of an in-process sigward. */
function logSink(): { lines: Record<string, unknown>[]; logger: ReturnType<typeof createLogger> } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('info', {
    write(s: string) {
      for (const l of s.split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
    },
  });
  return { lines, logger };
}

const isSignatureRequest = (url: string): boolean => url.includes('.sig') || url.includes('/referrers/');

describe('state kept across restarts', () => {
  let reg: Registry;
  const alice = newKey('alice');
  const multi: TestImage = buildMultiArch({ 'm.txt': 'signed at the index\n' });
  const child = multi.manifests[0] as TestImage;
  const single: TestImage = buildImage({ files: { 's.txt': 'signed single image\n' } });
  const dirs: string[] = [];

  const config = (cacheDir: string, extraPolicy = false) => ({
    upstreams: [{ host: 'example.test', url: reg.url }],
    cache: { dir: cacheDir },
    trust: { keys: { alice: { pem: alice.publicPem } } },
    policy: {
      policies: [
        { name: 'apps', match: ['example.test/apps/*'], keys: ['alice'] },
        // A second rule changes the policy hash without touching what apps/* needs.
        ...(extraPolicy ? [{ name: 'other', match: ['example.test/other/*'], keys: ['alice'] }] : []),
      ],
    },
  });

  const cacheDir = (): string => {
    const d = tempDir('kept-state');
    dirs.push(d);
    return d;
  };

  /** Pull the index by tag, a platform manifest by digest and the single image by tag; then close (flushes). */
  async function warm(dir: string): Promise<void> {
    const sw = await startSigward(config(dir), { keepState: true });
    try {
      assert.equal((await pull(sw, 'apps/multi', 'v1')).status, 200);
      const c = await pull(sw, 'apps/multi', child.digest);
      assert.equal(c.status, 200);
      assert.equal(c.outcome, 'covered-by-index');
      assert.equal((await pull(sw, 'apps/single', 'v1')).status, 200);
    } finally {
      await sw.stop();
    }
  }

  before(async () => {
    reg = await startRegistry();
    await pushImage(reg, 'apps/multi', 'v1', multi);
    await signLegacy(reg, 'apps/multi', multi.digest, { keys: [alice] });
    await pushImage(reg, 'apps/single', 'v1', single);
    await signLegacy(reg, 'apps/single', single.digest, { keys: [alice] });
  });

  after(async () => {
    await reg?.stop();
    for (const d of dirs) removeTempDir(d);
  });

  test('without kept state, a platform manifest by digest is refused (what a restart did before)', async () => {
    const sw = await startSigward(config(cacheDir()), { keepState: true });
    try {
      const r = await pull(sw, 'apps/multi', child.digest);
      assert.equal(r.status, 403, r.body.toString());
    } finally {
      await sw.stop();
    }
  });

  test('after a restart, a covered platform manifest by digest needs no upstream request and a signed tag no new lookup', async () => {
    const dir = cacheDir();
    await warm(dir);
    const sw = await startSigward(config(dir), { keepState: true });
    try {
      const c = await pull(sw, 'apps/multi', child.digest);
      assert.equal(c.status, 200, c.body.toString());
      assert.deepEqual(c.body, child.bytes);
      assert.equal(c.outcome, 'covered-by-index');
      assert.equal(sw.upstreamRequests.length, 0, 'bytes and coverage both come from the kept state');
      const s = await pull(sw, 'apps/single', 'v1');
      assert.equal(s.status, 200);
      assert.equal(s.outcome, 'verified');
      assert.equal(sw.app?.gate.lookups, 0);
      assert.deepEqual(
        sw.upstreamRequests.filter((q) => isSignatureRequest(q.url)),
        [],
      );
      assert.equal(sw.upstreamRequests.length, 1, 'the tag itself is always resolved at the upstream');
    } finally {
      await sw.stop();
    }
  });

  test('a policy changed across the restart uses none of the kept verdicts', async () => {
    const dir = cacheDir();
    await warm(dir);
    const sw = await startSigward(config(dir, true), { keepState: true });
    try {
      const c = await pull(sw, 'apps/multi', child.digest);
      assert.equal(c.status, 403, 'the coverage was decided under another policy hash');
      const s = await pull(sw, 'apps/single', 'v1');
      assert.equal(s.status, 200);
      assert.equal(sw.app?.gate.lookups, 2, 'the child and the single image were verified afresh');
    } finally {
      await sw.stop();
    }
  });

  test('a journal line with changed bytes is ignored, logged, and admits nothing', async () => {
    const dir = cacheDir();
    await warm(dir);
    const file = join(dir, 'state', 'journal');
    // Change one character inside every coverage record (the seal no longer matches).
    const text = readFileSync(file, 'utf8');
    assert.match(text, /"t":"c"/);
    writeFileSync(
      file,
      text.replace(/"t":"c","ph":"([0-9a-f])/g, (_all, h: string) => `"t":"c","ph":"${h === 'a' ? 'b' : 'a'}`),
    );
    const { lines, logger } = logSink();
    const sw = await startSigward(config(dir), { keepState: true, logger });
    try {
      assert.equal((await pull(sw, 'apps/multi', child.digest)).status, 403);
      const warned = lines.find((l) => String(l.msg).startsWith('state journal'));
      assert.ok(warned, JSON.stringify(lines));
      assert.equal(warned.ignored, 1);
      // The untouched verdict of the single image still counts.
      assert.equal((await pull(sw, 'apps/single', 'v1')).status, 200);
      assert.equal(sw.app?.gate.lookups, 1, 'only the child was looked up');
    } finally {
      await sw.stop();
    }
  });

  test('records sealed under another key (a file dropped into cache.dir) are never believed', async () => {
    const dir = cacheDir();
    await warm(dir);
    const file = join(dir, 'state', 'journal');
    const real = readFileSync(file, 'utf8');
    const cover = real.split('\n').find((l) => l.includes('"t":"c"'));
    assert.ok(cover);
    const record = JSON.parse(cover.slice(65)) as Record<string, unknown>;
    // The same coverage, sealed with a key that is not the store's: believed, it would let the child through.
    const forged = sealLine(Buffer.alloc(32, 7), { ...record, exp: Date.now() + 3_600_000 });
    writeFileSync(file, forged);
    const { lines, logger } = logSink();
    const sw = await startSigward(config(dir), { keepState: true, logger });
    try {
      const c = await pull(sw, 'apps/multi', child.digest);
      assert.equal(c.status, 403);
      const warned = lines.find((l) => String(l.msg).startsWith('state journal'));
      assert.equal(warned?.ignored, 1);
      // The journal was rewritten without the foreign line.
      assert.doesNotMatch(readFileSync(file, 'utf8'), /"t":"c"/);
    } finally {
      await sw.stop();
    }
  });

  test('a journal cut in the middle of a line (a crash) keeps the lines before it and ignores the torn one', async () => {
    const dir = cacheDir();
    await warm(dir);
    const file = join(dir, 'state', 'journal');
    const text = readFileSync(file, 'utf8');
    const at = text.indexOf('"t":"c"');
    assert.ok(at > 0);
    writeFileSync(file, text.slice(0, at + 20));
    const { lines, logger } = logSink();
    const sw = await startSigward(config(dir), { keepState: true, logger });
    try {
      assert.equal((await pull(sw, 'apps/multi', child.digest)).status, 403, 'the coverage line was torn');
      const warned = lines.find((l) => String(l.msg).startsWith('state journal'));
      assert.equal(warned?.torn, true);
      assert.ok(readFileSync(file, 'utf8').endsWith('\n'), 'the torn tail is cut on load');
    } finally {
      await sw.stop();
    }
  });

  test('a kept manifest changed on disk is never served: it is fetched from the upstream again', async () => {
    const dir = cacheDir();
    await warm(dir);
    const mdir = join(dir, 'state', 'manifests');
    const name = `sha256-${child.digest.slice('sha256:'.length)}`;
    assert.ok(readdirSync(mdir).includes(name));
    const changed = Buffer.from(child.bytes);
    changed[changed.length - 2] = 0x20;
    writeFileSync(join(mdir, name), changed);
    const { lines, logger } = logSink();
    const sw = await startSigward(config(dir), { keepState: true, logger });
    try {
      const c = await pull(sw, 'apps/multi', child.digest);
      assert.equal(c.status, 200);
      assert.deepEqual(c.body, child.bytes);
      assert.equal(sw.upstreamRequests.length, 1, 'one manifest GET, no signature lookup (the coverage is kept)');
      assert.ok(lines.some((l) => String(l.msg).startsWith('kept manifest does not match its digest')));
    } finally {
      await sw.stop();
    }
  });

  test('an unusable cache.dir leaves the daemon serving from memory, said once', async () => {
    const dir = cacheDir();
    writeFileSync(join(dir, 'state'), 'a file where the state directory should be');
    const { lines, logger } = logSink();
    const sw = await startSigward(config(dir), { keepState: true, logger });
    try {
      assert.equal((await pull(sw, 'apps/multi', 'v1')).status, 200);
      assert.equal((await pull(sw, 'apps/multi', child.digest)).status, 200);
      assert.equal(lines.filter((l) => String(l.msg).startsWith('kept state:')).length, 1);
    } finally {
      await sw.stop();
    }
  });

  test('an app built without keepState (sigward verify, triangulate) neither reads nor writes the kept state', async () => {
    const dir = cacheDir();
    await warm(dir);
    const journal = readFileSync(join(dir, 'state', 'journal'), 'utf8');
    const sw = await startSigward(config(dir));
    try {
      assert.equal((await pull(sw, 'apps/multi', child.digest)).status, 403);
      assert.equal((await pull(sw, 'apps/single', 'v1')).status, 200);
    } finally {
      await sw.stop();
    }
    assert.equal(readFileSync(join(dir, 'state', 'journal'), 'utf8'), journal);
    const fresh = cacheDir();
    const other = await startSigward(config(fresh));
    try {
      assert.equal((await pull(other, 'apps/single', 'v1')).status, 200);
    } finally {
      await other.stop();
    }
    assert.deepEqual(readdirSync(fresh), []);
  });

  test('a restarted `sigward serve` process serves a covered platform manifest by digest', async () => {
    const dir = cacheDir();
    const first = await startSigwardProcess(config(dir));
    try {
      assert.equal((await pull(first, 'apps/multi', 'v1')).status, 200);
      assert.equal((await pull(first, 'apps/multi', child.digest)).status, 200);
    } finally {
      await first.stop();
    }
    const second = await startSigwardProcess(config(dir));
    try {
      const c = await pull(second, 'apps/multi', child.digest);
      assert.equal(c.status, 200, c.body.toString());
      assert.equal(c.outcome, 'covered-by-index');
      assert.deepEqual(c.body, child.bytes);
    } finally {
      await second.stop();
    }
  });
});
