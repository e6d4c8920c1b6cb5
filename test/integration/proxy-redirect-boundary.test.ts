// What a client of sigward gets when an upstream redirects somewhere it should not: sigward (in-process) in front of
// a scripted fake upstream whose 302s point at another loopback listener. That listener counts every request, so the
// tests prove sigward never asked it; its tag list would have been passed on verbatim before the boundary existed.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serveBlob, startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { ACCEPT, assertOciError, startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.ts';
import { rawGet } from '../helpers/raw-http.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import type { ServerResponse } from 'node:http';

const INTERNAL = 'internal-only-tag';

describe('upstream redirects through the proxy', () => {
  let fp: FaultProxy;
  let foreign: FakeUpstream; // e.g. a service on the proxy's own machine
  let open: RunningSigward; // the same upstream with allowPrivateNetworks: true
  let blobPath: string;

  before(async () => {
    fp = await startFaultProxy();
    foreign = await startFakeUpstream();
    const [digest, bytes] = fp.goodLayer;
    blobPath = `/v2/fault/good/blobs/${digest}`;
    foreign.route('/v2/fault/x/tags/list', (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ name: 'fault/x', tags: [INTERNAL] }));
    });
    foreign.route(blobPath, (_req, res) => serveBlob(res, bytes));
    const redirect = (to: string) => (_req: unknown, res: ServerResponse) => {
      res.writeHead(302, { Location: to });
      res.end();
    };
    fp.fake.route('/v2/fault/x/tags/list', redirect(`${foreign.url}/v2/fault/x/tags/list`));
    fp.fake.route(
      `/v2/fault/x/referrers/${fp.good.digest}`,
      redirect(`${foreign.url}/v2/fault/x/referrers/${fp.good.digest}`),
    );
    fp.fake.route(`/v2/fault/x/blobs/${digest}`, redirect(`${foreign.url}${blobPath}`));
    fp.fake.route(`/v2/fault/same/blobs/${digest}`, redirect(blobPath));
    open = await startSigward({
      upstreams: [{ host: 'fault.test', url: fp.fake.url, allowPrivateNetworks: true, retries: 1 }],
      policy: { default: 'allow' },
    });
  });
  after(async () => {
    await open?.stop();
    await foreign?.stop();
    await fp?.stop();
  });
  afterEach(async () => {
    await fp.assertStillServes();
  });

  test('a tag list redirected to a loopback listener is 502, and the listener is never asked', async () => {
    for (const sw of [fp.sw, open]) {
      const r = await rawGet(`${sw.url}/v2/fault.test/fault/x/tags/list`);
      const err = assertOciError(r, 502, 'UNKNOWN');
      assert.match(err.message, /redirected GET .*tags\/list to http:\/\/127\.0\.0\.1:\d+, another origin/);
      assert.ok(!r.body.toString().includes(INTERNAL));
    }
    assert.deepEqual(foreign.log, []);
  });

  test('referrers and Range requests are not followed either, even with allowPrivateNetworks', async () => {
    for (const sw of [fp.sw, open]) {
      assertOciError(await rawGet(`${sw.url}/v2/fault.test/fault/x/referrers/${fp.good.digest}`), 502, 'UNKNOWN');
      const range = await rawGet(`${sw.url}/v2/fault.test/fault/x/blobs/${fp.goodLayer[0]}`, {
        headers: { Range: 'bytes=0-9' },
      });
      assert.match(assertOciError(range, 502, 'UNKNOWN').message, /Range request/);
    }
    assert.deepEqual(foreign.log, []);
  });

  test('a whole blob redirected to a loopback listener: 502 naming allowPrivateNetworks; allowed, it is served', async () => {
    const refused = await rawGet(`${fp.sw.url}/v2/fault.test/fault/x/blobs/${fp.goodLayer[0]}`);
    assert.match(
      assertOciError(refused, 502, 'UNKNOWN').message,
      /loopback address.*allowPrivateNetworks: true for upstream fault\.test/,
    );
    assert.deepEqual(foreign.log, []);
    const allowed = await rawGet(`${open.url}/v2/fault.test/fault/x/blobs/${fp.goodLayer[0]}`);
    assert.equal(allowed.status, 200);
    assert.deepEqual(allowed.body, fp.goodLayer[1]);
    assert.deepEqual(foreign.log, [`GET ${blobPath}`]);
  });

  test("a redirect back to the upstream's own origin is followed", async () => {
    const r = await rawGet(`${fp.sw.url}/v2/fault.test/fault/same/blobs/${fp.goodLayer[0]}`, { headers: ACCEPT });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, fp.goodLayer[1]);
  });
});
