// The benchmark's counting forwarder (bench/forwarder.ts) and the target checks of the signature-gate and sget
// figures (bench/report.ts): the bench's request counts and PASS/MISS lines are only as good as these.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { request } from 'undici';
import { busyMs, classify, startForwarder, type Forwarder, type Logged } from '../../bench/forwarder.ts';
import { evaluateTargets } from '../../bench/report.ts';
import { row } from '../../bench/rows.ts';
import { readSettings } from '../../bench/settings.ts';
import { listenOnLoopback } from '../helpers/proc.ts';

const HEX = 'ab'.repeat(32);

describe('classify: what an upstream request was for', () => {
  const cases: [string, string][] = [
    ['/v2/bench/signed/app/manifests/v1', 'manifest-tag'],
    [`/v2/bench/signed/app/manifests/sha256:${HEX}`, 'manifest-digest'],
    [`/v2/bench/signed/app/manifests/sha256%3A${HEX}`, 'manifest-digest'],
    [`/v2/bench/signed/app/manifests/sha256-${HEX}.sig`, 'sig-manifest'],
    [`/v2/bench/signed/app/manifests/sha256-${HEX}`, 'referrers-tag'],
    [`/v2/bench/signed/app/manifests/sha256-${HEX}.att`, 'manifest-tag'],
    [`/v2/bench/signed/app/referrers/sha256:${HEX}?artifactType=x`, 'referrers-api'],
    [`/v2/bench/signed/app/blobs/sha256:${HEX}`, 'blob'],
    ['/v2/', 'other'],
    ['/v2/bench/app/tags/list', 'other'],
  ];
  for (const [path, kind] of cases) test(`${path} -> ${kind}`, () => assert.equal(classify(path), kind));
});

describe('busyMs: time with at least one request in flight', () => {
  const e = (atMs: number, doneMs?: number): Logged => ({
    kind: 'blob',
    method: 'GET',
    path: '/',
    atMs,
    ...(doneMs === undefined ? {} : { doneMs }),
  });
  test('overlapping, nested and disjoint intervals are counted once', () => {
    assert.equal(busyMs([e(0, 2), e(1, 3), e(5, 6), e(5.5, 5.8)]), 4);
  });
  test('unanswered requests and an empty log count nothing', () => {
    assert.equal(busyMs([]), 0);
    assert.equal(busyMs([e(0), e(1, 2)]), 1);
  });
});

describe('the forwarder against a loopback upstream', () => {
  let upstream: http.Server;
  let fwd: Forwarder;
  let seen = 0;
  before(async () => {
    upstream = http.createServer((req, res) => {
      seen++;
      const missing = req.url?.includes('missing') ?? false;
      res.writeHead(missing ? 404 : 200, { 'content-type': 'text/plain', 'x-upstream-path': req.url ?? '' });
      res.end(missing ? 'nope' : `body of ${req.url ?? ''}`);
    });
    fwd = await startForwarder(`http://${(await listenOnLoopback(upstream)).host}`);
  });
  after(async () => {
    await fwd?.stop();
    upstream?.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  });

  test('forwards status, headers and body, and counts each request by kind in the current window', async () => {
    fwd.begin();
    const a = await request(`${fwd.url}/v2/app/manifests/sha256-${HEX}.sig`);
    assert.equal(a.statusCode, 200);
    assert.equal(await a.body.text(), `body of /v2/app/manifests/sha256-${HEX}.sig`);
    const b = await request(`${fwd.url}/v2/app/manifests/missing`);
    assert.equal(b.statusCode, 404);
    assert.equal(await b.body.text(), 'nope');
    const c = fwd.counts();
    assert.equal(c['sig-manifest'], 1);
    assert.equal(c['manifest-tag'], 1);
    assert.equal(fwd.requests().length, 2);
    assert.deepEqual(
      fwd.requests().map((r) => r.status),
      [200, 404],
    );
    fwd.begin();
    assert.equal(fwd.requests().length, 0, 'begin() starts a new window');
  });

  test('holds a request (logged, not yet forwarded) while delayMs runs, then forwards it', async () => {
    fwd.delayMs = 1000;
    try {
      fwd.begin();
      const before = seen;
      const pending = request(`${fwd.url}/v2/app/blobs/sha256:${HEX}`);
      while (fwd.requests().length === 0) await new Promise((r) => setImmediate(r));
      // A control request sent after it without a delay goes all the way through while the first is still held.
      fwd.delayMs = 0;
      const control = await request(`${fwd.url}/v2/app/manifests/control`);
      assert.equal(await control.body.text(), 'body of /v2/app/manifests/control');
      assert.equal(seen, before + 1, 'the upstream must not see the held request while the forwarder holds it');
      assert.equal(fwd.inFlight(), 1);
      const r = await pending;
      assert.equal(await r.body.text(), `body of /v2/app/blobs/sha256:${HEX}`);
      assert.equal(seen, before + 2);
      assert.equal(fwd.counts().blob, 1);
    } finally {
      fwd.delayMs = 0;
    }
  });

  test('refuses an upstream that is not http://127.0.0.1', async () => {
    await assert.rejects(startForwarder('http://localhost:5000'), /127\.0\.0\.1/);
    await assert.rejects(startForwarder('https://127.0.0.1:5000'), /127\.0\.0\.1/);
  });
});

describe('targets of the signature-gate and sget figures', () => {
  const settings = readSettings({});
  const target = (rows: ReturnType<typeof row>[], id: string, t: string) =>
    evaluateTargets(rows, settings).find((x) => x.row === id && x.target === t);

  test('the critical path is a count of round trips: 3.4 rounds to 3 (PASS), 3.6 to 4 (MISS)', () => {
    assert.equal(
      target(
        [row('signed.cold.depth', 'd', 'round trips', 'lower', { sigward: [3.4] })],
        'signed.cold.depth',
        '<= 3 round trips',
      )?.pass,
      true,
    );
    assert.equal(
      target(
        [row('signed.cold.depth', 'd', 'round trips', 'lower', { sigward: [3.6] })],
        'signed.cold.depth',
        '<= 3 round trips',
      )?.pass,
      false,
    );
  });

  test('one .sig lookup per burst passes, two miss; the max over bursts counts', () => {
    const one = row('signed.herd.sig', 'h', 'requests', 'lower', { sigward: [1, 1] }, { reduce: 'max' });
    const two = row('signed.herd.sig', 'h', 'requests', 'lower', { sigward: [1, 2] }, { reduce: 'max' });
    assert.equal(target([one], 'signed.herd.sig', '<= 1 lookup')?.pass, true);
    assert.equal(target([two], 'signed.herd.sig', '<= 1 lookup')?.pass, false);
  });

  test('sget cold and warm are ratios to direct; a missing figure is neither PASS nor MISS', () => {
    const rows = [
      row('sget.cold.mbps', 'c', 'MB/s', 'higher', { direct: [1000], sigward: [299] }),
      row('sget.warm.mbps', 'w', 'MB/s', 'higher', { direct: [1000], sigward: [500] }),
    ];
    assert.equal(target(rows, 'sget.cold.mbps', '>= 0.3x direct')?.pass, false);
    assert.equal(target(rows, 'sget.warm.mbps', '>= 0.5x direct')?.pass, true);
    assert.equal(target(rows, 'sget.rss.growth', '<= 64 MiB')?.pass, undefined);
  });

  test('the signed image gets the same load targets as the unsigned one, at both connection counts', () => {
    const all = evaluateTargets([], settings).filter((t) => t.row.startsWith('signed.') && t.row.endsWith('.rps'));
    assert.deepEqual(all.map((t) => `${t.row} ${t.target}`).sort(), [
      'signed.digest.c1.rps >= 3x direct',
      'signed.digest.c32.rps >= 3x direct',
      'signed.tag.c1.rps >= 0.75x direct',
      'signed.tag.c1.rps >= 4x peer',
      'signed.tag.c32.rps >= 0.75x direct',
      'signed.tag.c32.rps >= 4x peer',
    ]);
  });
});
