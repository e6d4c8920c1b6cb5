// `blobs: cache` under faults, against a scripted fake upstream: an upstream that breaks off mid-body, and a client
// that leaves mid-transfer, leave nothing in the store (no file, no temporary copy) and do not stop a later good
// pull from being stored.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { serveBlob, sha256, startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { tempDir, waitFor } from '../helpers/proc.ts';
import { rawGet } from '../helpers/raw-http.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { must } from '../helpers/must.ts';

const blob = randomBytes(2 * 1024 * 1024);
const digest = sha256(blob);

describe('blobs: cache, faults', () => {
  let fake: FakeUpstream;
  let sw: RunningSigward;
  const dir = tempDir('blob-cache-faults');
  const tmp = join(dir, 'sget', 'tmp');
  const stored = (): boolean => existsSync(join(dir, 'sget', 'blobs', digest.replace(':', '-')));
  let mode: 'cut' | 'slow' | 'good' = 'cut';

  before(async () => {
    fake = await startFakeUpstream();
    fake.route(`/v2/x/app/blobs/${digest}`, (_req, res) => {
      if (mode === 'good') return serveBlob(res, blob);
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.length) });
      if (mode === 'cut') {
        // Half of the body, then the connection breaks.
        res.write(blob.subarray(0, blob.length / 2), () => res.destroy());
        return;
      }
      // slow: a first part, then the rest only after the client has gone (the test ends it by switching mode).
      res.write(blob.subarray(0, 256 * 1024));
      const timer = setInterval(() => {
        if (mode !== 'slow') {
          clearInterval(timer);
          res.end(blob.subarray(256 * 1024));
        }
      }, 5);
      res.on('close', () => clearInterval(timer));
    });
    sw = await startSigward({
      upstreams: [{ host: 'fault.test', url: fake.url, blobs: 'cache', retries: 0, allowPrivateNetworks: true }],
      policy: { default: 'allow' },
      cache: { dir },
    });
  });
  after(async () => {
    await sw?.stop();
    await fake?.stop();
  });

  test('an upstream that breaks off mid-body: the client sees a cut body, nothing is stored', async () => {
    mode = 'cut';
    const r = await rawGet(`${sw.url}/v2/fault.test/x/app/blobs/${digest}`);
    assert.equal(r.status, 200);
    assert.equal(r.complete, false);
    await waitFor(async () => readdirSync(tmp).length === 0, 'the copy to be removed', 10_000);
    assert.equal(stored(), false);
    assert.equal(must(sw.app, 'app').sget.store.has(digest as never), false);
  });

  test('a client that leaves a cold transfer: the copy is dropped, a later pull stores the blob', async () => {
    mode = 'slow';
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${sw.url}/v2/fault.test/x/app/blobs/${digest}`, { agent: false }, (res) => {
        res.once('data', () => req.destroy());
        res.on('close', () => resolve());
      });
      req.on('error', () => undefined);
      req.end();
    });
    await waitFor(async () => readdirSync(tmp).length === 0, 'the copy to be removed', 10_000);
    assert.equal(stored(), false);
    mode = 'good';
    const r = await rawGet(`${sw.url}/v2/fault.test/x/app/blobs/${digest}`);
    assert.equal(r.status, 200);
    assert.equal(sha256(r.body), digest);
    await waitFor(async () => stored(), 'the blob to be stored', 10_000);
    const asked = fake.log.length;
    const warm = await rawGet(`${sw.url}/v2/fault.test/x/app/blobs/${digest}`);
    assert.equal(sha256(warm.body), digest);
    assert.equal(fake.log.length, asked, 'served from the store');
  });
});
