// sigward (in-process) in front of a fake upstream (fake-upstream.ts) that also serves one good image, with small
// timeouts, one retry and a small manifest cap, for fault-injection tests. `assertStillServes()` is the follow-up
// every fault test runs: a tag, a digest and a blob must still come back byte-exact (no crash, no poisoned state).
import assert from 'node:assert/strict';
import { buildImage, OCI_INDEX, OCI_MANIFEST, type TestImage } from './images.ts';
import { serveBlob, serveManifest, startFakeUpstream, type FakeUpstream } from './fake-upstream.ts';
import { ociErrorOf, rawGet, type RawResponse } from './raw-http.ts';
import { startSigward, type RunningSigward } from './sigward.ts';

export const ACCEPT = { Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` };
/** limits.manifestBytes of the proxy (the smallest the config allows is 1024). */
export const MANIFEST_CAP = 2048;

export interface FaultProxy {
  fake: FakeUpstream;
  sw: RunningSigward;
  /** The good image at fault/good:v1 on the fake. */
  good: TestImage;
  /** Its layer: digest and bytes. */
  goodLayer: [string, Buffer];
  /** sigward URL of `/v2/fault.test/<path>`. */
  at(path: string): string;
  assertStillServes(): Promise<void>;
  stop(): Promise<void>;
}

export async function startFaultProxy(): Promise<FaultProxy> {
  const good = buildImage({ files: { 'hello.txt': 'a good image behind a faulty upstream\n' } });
  const configDigest = (JSON.parse(good.bytes.toString()) as { config: { digest: string } }).config.digest;
  const layer = [...good.blobs].find(([d]) => d !== configDigest);
  assert.ok(layer);
  const goodLayer: [string, Buffer] = [layer[0], Buffer.from(layer[1] as Uint8Array)];
  const fake = await startFakeUpstream();
  fake.route('/v2/fault/good/manifests/v1', (req, res) => serveManifest(res, good.bytes, good.mediaType, req.method));
  fake.route(`/v2/fault/good/manifests/${good.digest}`, (req, res) =>
    serveManifest(res, good.bytes, good.mediaType, req.method),
  );
  fake.route(`/v2/fault/good/blobs/${goodLayer[0]}`, (_req, res) => serveBlob(res, goodLayer[1]));
  let sw: RunningSigward;
  try {
    sw = await startSigward({
      upstreams: [
        {
          host: 'fault.test',
          url: fake.url,
          default: true,
          // Small on purpose: a stalled upstream must turn into an answer quickly.
          timeouts: { connect: '2s', headers: '400ms', body: '400ms' },
          retries: 1,
        },
      ],
      limits: { manifestBytes: MANIFEST_CAP },
      // Upstream faults are tested here; the signature gate has its own tests.
      policy: { default: 'allow' },
    });
  } catch (err) {
    await fake.stop();
    throw err;
  }
  const at = (path: string): string => `${sw.url}/v2/fault.test/${path}`;
  return {
    fake,
    sw,
    good,
    goodLayer,
    at,
    async assertStillServes() {
      const byTag = await rawGet(at('fault/good/manifests/v1'), { headers: ACCEPT });
      assert.equal(byTag.status, 200, byTag.body.toString());
      assert.deepEqual(byTag.body, good.bytes);
      const byDigest = await rawGet(at(`fault/good/manifests/${good.digest}`), { headers: ACCEPT });
      assert.equal(byDigest.status, 200);
      assert.deepEqual(byDigest.body, good.bytes);
      const blob = await rawGet(at(`fault/good/blobs/${goodLayer[0]}`));
      assert.equal(blob.status, 200);
      assert.ok(blob.complete);
      assert.deepEqual(blob.body, goodLayer[1]);
    },
    async stop() {
      await sw.stop();
      await fake.stop();
    },
  };
}

/** The answer is `status` with an OCI error body whose first code is `code`; returns that error. */
export function assertOciError(r: RawResponse, status: number, code: string): { code: string; message: string } {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status}: ${r.body.toString()}`);
  const err = ociErrorOf(r.body);
  assert.ok(err, `an OCI error body, got ${r.body.toString()}`);
  assert.equal(err.code, code, err.message);
  return err;
}
