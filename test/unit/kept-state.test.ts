// KeptState on its own: bounded by cache.stateSize (least recently served out, their files removed), the journal
// rewritten once mostly superseded, kept verdicts restored for what is left of their lifetime under the policy in
// force only, and which upstream failures count as an outage for fail-static.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SigwardError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { digestOf } from '../../src/oci/digest.ts';
import type { Decision } from '../../src/policy/types.ts';
import { outageOf } from '../../src/proxy/fail-static.ts';
import type { FetchedManifest } from '../../src/proxy/types.ts';
import { VerdictCache, type StoredVerdict } from '../../src/proxy/verdicts.ts';
import { KeptState } from '../../src/state/kept.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';

const MT = 'application/vnd.oci.image.manifest.v1+json';
const log = createLogger('silent');

function decision(outcome: Decision['outcome'] = 'verified'): Decision {
  return {
    allow: true,
    wouldDeny: false,
    mode: 'enforce',
    outcome,
    policyName: 'apps',
    matchedPattern: 'r.test/*',
    signers: ['alice'],
    coversChildren: false,
    summary: 'allowed',
    message: 'allowed',
    perSignature: [],
  };
}

function manifest(n: number, pad = 0): FetchedManifest {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT, n, pad: 'x'.repeat(pad) }));
  return { bytes, digest: digestOf(bytes), mediaType: MT, size: bytes.length };
}

function setup(dir: string, opts: { maxBytes?: number; ph?: string; clock?: { t: number } } = {}) {
  const clock = opts.clock ?? { t: 1_000_000 };
  const verdicts = new VerdictCache({ allowTtlMs: 600_000, denyTtlMs: 30_000, maxEntries: 1000, now: () => clock.t });
  const kept = new KeptState({
    dir: join(dir, 'state'),
    keyFile: join(dir, 'sget', 'seal.key'),
    maxBytes: opts.maxBytes ?? 1024 * 1024,
    maxEntries: 1000,
    verdictBytes: 1024 * 1024,
    verdicts,
    policyHash: () => opts.ph ?? 'ph1',
    log,
    now: () => clock.t,
  });
  return { clock, verdicts, kept };
}

const place = (tag?: string) => ({ host: 'r.test', repository: 'apps/x', tag });

test('kept manifest bytes stay within stateSize: the least recently served go, with their files', async () => {
  const dir = tempDir('kept-unit');
  try {
    const { kept } = setup(dir, { maxBytes: 8 * 1024 });
    await kept.ready;
    const all = Array.from({ length: 20 }, (_, i) => manifest(i, 900));
    for (const m of all) kept.servedVerified(place(), m, decision(), 'ph1');
    await kept.flush();
    const files = readdirSync(join(dir, 'state', 'manifests'));
    assert.ok(files.length >= 4 && files.length <= 8, `${files.length} files`);
    // The newest are kept, the oldest are gone from disk and from memory.
    const last = all[19] as FetchedManifest;
    assert.ok(files.includes(last.digest.replace(':', '-')));
    assert.ok(!files.includes((all[0] as FetchedManifest).digest.replace(':', '-')));
    assert.equal(await kept.manifest('r.test', 'apps/x', (all[0] as FetchedManifest).digest), undefined);
    assert.deepEqual((await kept.manifest('r.test', 'apps/x', last.digest))?.bytes, last.bytes);
  } finally {
    removeTempDir(dir);
  }
});

test('the journal is rewritten when mostly superseded, and stays readable', async () => {
  const dir = tempDir('kept-unit');
  try {
    const { kept, clock } = setup(dir);
    await kept.ready;
    const m = manifest(1);
    // The same tag served verified again and again, a minute apart: each time a new line.
    for (let i = 0; i < 3000; i++) {
      clock.t += 61_000;
      kept.servedVerified(place('v1'), m, decision(), 'ph1');
      if (i % 500 === 0) await kept.flush();
    }
    await kept.flush();
    const lines = readFileSync(join(dir, 'state', 'journal'), 'utf8').split('\n').length - 1;
    assert.ok(lines <= 2 * 2 + 1024, `${lines} lines for 2 live records`);
    const again = setup(dir, { clock });
    const found = await again.kept.lastVerified('r.test', 'apps/x', { kind: 'tag', tag: 'v1' }, 'ph1', 0);
    assert.equal(found?.manifest.digest, m.digest);
    assert.equal(found?.served.at, clock.t);
  } finally {
    removeTempDir(dir);
  }
});

test('kept verdicts come back for what is left of their lifetime, and only under the policy in force', async () => {
  const dir = tempDir('kept-unit');
  try {
    const first = setup(dir);
    await first.kept.ready;
    const v: StoredVerdict = { decision: decision(), formats: ['legacy'], found: 1 };
    first.verdicts.set(VerdictCache.key('ph1', 'r.test/apps/x', 'sha256:aa', 'single'), v);
    first.verdicts.set(VerdictCache.key('ph1', 'r.test/apps/x', 'sha256:dd', 'single'), {
      ...v,
      decision: { ...v.decision, allow: false, outcome: 'no-valid-signature' },
    });
    first.verdicts.coverChildren('ph1', 'r.test/apps/x', 'sha256:bb', ['sha256:cc']);
    await first.kept.flush();

    const clock = { t: first.clock.t + 400_000 };
    const same = setup(dir, { clock });
    await same.kept.ready;
    assert.ok(same.verdicts.get(VerdictCache.key('ph1', 'r.test/apps/x', 'sha256:aa', 'single')));
    assert.equal(same.verdicts.get(VerdictCache.key('ph1', 'r.test/apps/x', 'sha256:dd', 'single')), undefined);
    assert.equal(same.verdicts.coveringIndex('ph1', 'r.test/apps/x', 'sha256:cc'), 'sha256:bb');
    clock.t += 200_001; // past the 600 s they were given at first
    assert.equal(same.verdicts.get(VerdictCache.key('ph1', 'r.test/apps/x', 'sha256:aa', 'single')), undefined);
    assert.equal(same.verdicts.coveringIndex('ph1', 'r.test/apps/x', 'sha256:cc'), undefined);

    const other = setup(dir, { ph: 'ph2', clock: { t: first.clock.t + 1 } });
    await other.kept.ready;
    assert.equal(other.verdicts.size, 0);
    assert.equal(other.verdicts.coveringIndex('ph1', 'r.test/apps/x', 'sha256:cc'), undefined);
  } finally {
    removeTempDir(dir);
  }
});

test('an outage for fail-static: no answer, a timeout, a 5xx, also behind a failed lookup; nothing else', () => {
  const unavailable = new SigwardError('UPSTREAM_UNAVAILABLE', 'x', { reason: 'upstream unavailable' });
  const timeout = new SigwardError('UPSTREAM_TIMEOUT', 'x');
  const lookup = new SigwardError('VERIFY_UNAVAILABLE', 'x', { cause: timeout });
  assert.equal(outageOf(unavailable), unavailable);
  assert.equal(outageOf(timeout), timeout);
  assert.equal(outageOf(lookup), timeout);
  for (const code of ['MANIFEST_UNKNOWN', 'UPSTREAM_UNAUTHORIZED', 'UPSTREAM_DENIED', 'UPSTREAM_RATE_LIMITED'] as const)
    assert.equal(outageOf(new SigwardError(code, 'x')), undefined, code);
  assert.equal(outageOf(new SigwardError('UPSTREAM_UNAVAILABLE', 'x', { reason: 'upstream tls failure' })), undefined);
  assert.equal(outageOf(new SigwardError('VERIFY_UNAVAILABLE', 'x', { cause: new Error('parse') })), undefined);
  assert.equal(outageOf(new Error('plain')), undefined);
});

test('a tag or digest decided otherwise since is forgotten, and stays forgotten after a restart', async () => {
  const dir = tempDir('kept-unit');
  try {
    const a = setup(dir);
    await a.kept.ready;
    const m = manifest(7);
    a.kept.servedVerified(place('v1'), m, decision(), 'ph1');
    const since = a.clock.t - 1;
    assert.equal(
      (await a.kept.lastVerified('r.test', 'apps/x', { kind: 'tag', tag: 'v1' }, 'ph1', since))?.manifest.digest,
      m.digest,
    );
    // Another policy's decision forgets nothing; this policy's does.
    a.kept.servedNotVerified(place('v1'), m.digest, 'ph2');
    assert.ok(await a.kept.lastVerified('r.test', 'apps/x', { kind: 'tag', tag: 'v1' }, 'ph1', since));
    a.kept.servedNotVerified(place('v1'), m.digest, 'ph1');
    assert.equal(await a.kept.lastVerified('r.test', 'apps/x', { kind: 'tag', tag: 'v1' }, 'ph1', since), undefined);
    assert.equal(
      await a.kept.lastVerified('r.test', 'apps/x', { kind: 'digest', digest: m.digest }, 'ph1', since),
      undefined,
    );
    await a.kept.flush();
    const b = setup(dir, { clock: a.clock });
    await b.kept.ready;
    assert.equal(await b.kept.lastVerified('r.test', 'apps/x', { kind: 'tag', tag: 'v1' }, 'ph1', since), undefined);
    assert.equal(await b.kept.manifest('r.test', 'apps/x', m.digest), undefined);
  } finally {
    removeTempDir(dir);
  }
});

test('an allow kept for a digest does not come back after a restart once that digest was denied (a revoked signature)', async () => {
  const dir = tempDir('kept-unit');
  try {
    const first = setup(dir);
    await first.kept.ready;
    const key = VerdictCache.key('ph1', 'r.test/apps/x', 'sha256:ee', 'single');
    const v: StoredVerdict = { decision: decision(), formats: ['legacy'], found: 1 };
    first.verdicts.set(key, v);
    await first.kept.flush();
    first.verdicts.set(key, { ...v, decision: { ...v.decision, allow: false, outcome: 'no-signatures' } });
    await first.kept.flush();
    const again = setup(dir, { clock: { t: first.clock.t + 1 } });
    await again.kept.ready;
    assert.equal(again.verdicts.get(key), undefined);
  } finally {
    removeTempDir(dir);
  }
});
