// limits.signatureMemory: signature lookups (and artifact proofs) across ALL requests hold at most this many bytes.
// A lookup takes its whole share before fetching; when the budget is spent, the next lookup waits until one ends, so
// a flood of cold pulls of different images with hostile .sig images cannot multiply the per-lookup bound.
// A fault-injecting fake upstream holds the .sig answers, so which lookups run at once can be seen.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { request } from 'undici';
import { startFake, ociError, serveManifest, sha256, type Fake } from '../helpers/fake-upstream.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { newKey } from '../helpers/cosign.ts';
import { waitFor } from '../helpers/proc.ts';
import { must } from '../helpers/must.ts';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const manifestOf = (i: number): Buffer =>
  Buffer.from(
    `{"schemaVersion":2,"mediaType":"${OCI}","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"${sha256(Buffer.from(String(i)))}","size":1},"layers":[]}`,
  );

let fake: Fake;
let sw: RunningSigward;
const held: ServerResponse[] = [];
let sigRequests = 0;

before(async () => {
  fake = await startFake((req, res) => {
    const url = req.url ?? '';
    const m = /^\/v2\/apps\/img(\d)\/manifests\/v1$/.exec(url);
    if (m) return serveManifest(res, manifestOf(Number(m[1])), OCI, req.method);
    if (/\/manifests\/sha256-[a-f0-9]{64}\.sig$/.test(url)) {
      sigRequests++;
      held.push(res); // answered (404: no signature) when the test releases it
      return;
    }
    ociError(res, 404, 'MANIFEST_UNKNOWN', 'not here'); // referrers API and tag schema: none
  });
  const alice = newKey('alice');
  sw = await startSigward({
    upstreams: [{ host: 'example.test', url: fake.url }],
    trust: { keys: { alice: { pem: alice.publicPem } } },
    policy: { default: 'deny', policies: [{ name: 'apps', match: ['example.test/apps/*'], keys: ['alice'] }] },
    // One lookup's share is the whole budget: lookups run one at a time.
    limits: {
      signatureBytesPerLookup: '1MiB',
      signatureBytes: '1MiB',
      attachmentLayerBytes: '1MiB',
      attachmentBytes: '1MiB',
      signatureMemory: '1MiB',
    },
  });
});
after(async () => {
  for (const r of held) if (!r.writableEnded) r.end();
  await sw?.stop();
  await fake?.close();
});

test('lookups of different images wait for their share of limits.signatureMemory', async () => {
  const gate = must(sw.app, 'in-process app').gate;
  const pulls = [0, 1, 2].map((i) =>
    request(`${sw.url}/v2/example.test/apps/img${i}/manifests/v1`).then(
      async (r) => (await r.body.dump(), r.statusCode),
    ),
  );
  await waitFor(
    async () => sigRequests === 1 && gate.memory.waiting === 2,
    'one lookup at the upstream, two waiting for memory',
  );
  assert.equal(gate.memory.inUse, 1024 * 1024);
  for (let n = 1; n <= 3; n++) {
    await waitFor(async () => held.length === n, `lookup ${n} at the upstream`);
    assert.equal(sigRequests, n, 'never more than one lookup at a time');
    ociError(must(held[n - 1], 'held answer'), 404, 'MANIFEST_UNKNOWN', 'no signature');
  }
  assert.deepEqual(await Promise.all(pulls), [403, 403, 403]);
  assert.equal(gate.memory.inUse, 0);
  assert.equal(gate.memory.waiting, 0);
});

test('config: signatureMemory below one lookup or proof is a problem with its line', async () => {
  const { parseConfigText } = await import('../../src/config/parse.ts');
  const r = parseConfigText('upstreams: [{host: ghcr.io}]\nlimits:\n  signatureMemory: 1MiB\n');
  assert.deepEqual(
    r.problems.map((p) => `${p.line}:${p.path}`),
    ['3:limits.signatureMemory'],
  );
  assert.match(must(r.problems[0], 'problem').message, /less than one lookup or proof may hold \(16777216 bytes/);
  assert.equal(parseConfigText('upstreams: [{host: ghcr.io}]\n').config?.limits.signatureMemory, 64 * 1024 * 1024);
});
