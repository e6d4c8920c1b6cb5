// The access line of a request whose client hangs up mid-blob: exactly one line, marked aborted, with the status
// that went out; and a request answered whole gets one line without the mark. (The e2e curl tests check the lines of
// whole answers against the daemon process; this one needs a client that leaves.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.ts';
import { serveBlob, serveBlobSlowly, sha256, startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { waitFor } from '../helpers/proc.ts';
import { must } from '../helpers/must.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';

interface Line {
  msg?: string;
  reqId?: string;
  status?: number;
  aborted?: boolean;
  path?: string;
}

let fake: FakeUpstream;
let sw: RunningSigward;
const lines: Line[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const l of chunk.toString().split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Line);
    done();
  },
});

before(async () => {
  fake = await startFakeUpstream();
  sw = await startSigward(
    { upstreams: [{ host: 'example.test', url: fake.url }], policy: { default: 'allow' } },
    { logger: createLogger('info', sink) },
  );
});
after(async () => {
  await sw?.stop();
  await fake?.stop();
});

const requestLines = (path: string): Line[] => lines.filter((l) => l.msg === 'request' && l.path === path);

test('a client that hangs up mid-blob gets one access line, marked aborted; a whole answer gets one unmarked', async () => {
  const slow = randomBytes(2 * 1024 * 1024);
  const slowDigest = sha256(slow);
  fake.route(`/v2/logs/app/blobs/${slowDigest}`, (_req, res) => serveBlobSlowly(res, slow));
  const path = `/v2/example.test/logs/app/blobs/${slowDigest}`;
  await new Promise<void>((resolve) => {
    const req = request(`${sw.url}${path}`, { agent: false }, (res) => {
      res.on('error', () => {});
      res.once('data', () => req.destroy()); // the first bytes arrived: leave
    });
    req.on('error', () => {});
    req.on('close', () => resolve());
    req.end();
  });
  await waitFor(async () => requestLines(path).length > 0, 'the access line of the abandoned blob', 10_000);
  // Every connection of the abandoned exchange closed on sigward's side: a second line would have been written by its
  // close handlers. It is counted again after the next request.
  const server = must(sw.server, 'in-process server');
  await waitFor(
    () =>
      new Promise<boolean>((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n === 0)))),
    'sigward to close the abandoned connection',
    10_000,
  );
  const cut = requestLines(path);
  assert.equal(cut.length, 1, JSON.stringify(cut));
  assert.equal(cut[0]?.aborted, true);
  assert.equal(cut[0]?.status, 200);

  const small = randomBytes(1000);
  fake.route(`/v2/logs/app/blobs/${sha256(small)}`, (_req, res) => serveBlob(res, small));
  const wholePath = `/v2/example.test/logs/app/blobs/${sha256(small)}`;
  await new Promise<void>((resolve, reject) => {
    request(`${sw.url}${wholePath}`, (res) => {
      res.resume();
      res.on('end', () => resolve());
    })
      .on('error', reject)
      .end();
  });
  await waitFor(async () => requestLines(wholePath).length > 0, 'the access line of the whole blob', 10_000);
  const whole = requestLines(wholePath);
  assert.equal(whole.length, 1);
  assert.equal(whole[0]?.aborted, undefined);
  assert.equal(whole[0]?.status, 200);
  assert.equal(requestLines(path).length, 1, 'still one line for the abandoned blob');
});
