// What the gate serves WITHOUT a verdict, against a real distribution registry: signature artifacts only once their
// layer bytes are proven inert, pointer-only indexes only when they are really indexes, and nothing that Go's decoder
// (containerd, podman) could read as another document. Crafted manifests are pushed byte-exact.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import {
  buildImage,
  pushBlob,
  pushImage,
  pushManifest,
  sha256,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER_GZIP,
  OCI_MANIFEST,
  type TestImage,
} from '../helpers/images.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { ociErrorOf, rawGet } from '../helpers/raw-http.ts';
import { newKey, signLegacy } from '../helpers/cosign.ts';
import { makeTar } from '../helpers/tar.ts';
import { key, must } from '../helpers/must.ts';
import { parseExposition } from '../helpers/prom-text.ts';
import {
  oneFileManifest,
  serveBlob,
  serveManifest,
  startFakeUpstream,
  type FakeUpstream,
} from '../helpers/fake-upstream.ts';
import { SigwardMetrics } from '../../src/metrics/metrics.ts';
import type { UpstreamObserver } from '../../src/metrics/observers.ts';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { signBytes } from '../../src/sign/signer.ts';
import { buildLegacySignatureImage } from '../../src/sign/legacy-image.ts';
import type { Digest } from '../../src/oci/digest.ts';

const SIG = 'application/vnd.dev.cosign.simplesigning.v1+json';
const ACCEPT = `${OCI_MANIFEST}, ${OCI_INDEX}`;
const sigTag = (digest: string) => `${digest.replace(':', '-')}.sig`;

async function pull(sw: RunningSigward, repo: string, ref: string) {
  const r = await request(`${sw.url}/v2/example.test/${repo}/manifests/${ref}`, { headers: { accept: ACCEPT } });
  const body = Buffer.from(await r.body.arrayBuffer());
  const error = r.statusCode !== 200 ? ociErrorOf(body) : undefined;
  return { status: r.statusCode, body, error };
}

/** Metrics that also keep every failure the upstream clients report to them (what is counted is still up to the
 * metrics), so a test can wait for sigward's abort of an early `.sig` ask to have been reported. */
class WatchedMetrics extends SigwardMetrics {
  readonly failures: unknown[] = [];
  private next = Promise.withResolvers<void>();

  override upstream(host: string): UpstreamObserver {
    const o = super.upstream(host);
    return {
      responded: (startMs) => o.responded(startMs),
      failed: (e) => {
        o.failed(e);
        this.failures.push(e);
        const woken = this.next;
        this.next = Promise.withResolvers<void>();
        woken.resolve();
      },
    };
  }

  /** The first failure from index `from` on that `match` accepts, once one was reported. */
  async failure(match: (e: unknown) => boolean, from = 0): Promise<unknown> {
    for (;;) {
      const hit = this.failures.slice(from).find(match);
      if (hit !== undefined) return hit;
      await this.next.promise;
    }
  }
}

/** sigward's own abort of a request (AbortController.abort() without a reason). */
const isAbort = (e: unknown): boolean => (e as { name?: unknown } | null)?.name === 'AbortError';

describe('gate: signature artifacts and crafted manifests against distribution', () => {
  let reg: Registry;
  let sw: RunningSigward;
  const alice = newKey('alice');
  let signed: TestImage;
  const evilTar = makeTar({ 'bin/evil': '#!/bin/sh\necho pwned\n' });
  const evilTgz = gzipSync(evilTar);
  const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  const desc = (mediaType: string, blob: Uint8Array) =>
    `{"mediaType":"${mediaType}","digest":"${sha256(blob)}","size":${blob.length}}`;
  const crafted: Record<string, { repo: string; json: string; mediaType: string; digest?: string }> = {};

  async function pushRaw(name: string, repo: string, json: string, mediaType: string, tag = 'v1'): Promise<void> {
    const bytes = Buffer.from(json);
    await pushManifest(reg, repo, tag, bytes, mediaType);
    crafted[name] = { repo, json, mediaType, digest: sha256(bytes) };
  }

  before(async () => {
    reg = await startRegistry();
    signed = buildImage({ files: { 'ok.txt': 'signed\n' } });
    for (const repo of ['apps/signed', 'apps/crafted', 'verify/signed', 'deny/signed', 'childonly/crafted']) {
      await pushImage(reg, repo, 'v1', signed);
      await signLegacy(reg, repo, signed.digest, { keys: [alice] });
      for (const b of [evilTgz, evilTar, config]) await pushBlob(reg, repo, b);
    }
    const cfg = desc(OCI_CONFIG, config);
    // An image manifest: JSON.parse sees a signature layer, Go sees the tar+gzip (last folded key wins).
    await pushRaw(
      'folded',
      'apps/crafted',
      `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","config":${cfg},"layers":[${desc(SIG, evilTar)}],"Layers":[${desc(OCI_LAYER_GZIP, evilTgz)}]}`,
      OCI_MANIFEST,
    );
    // Honest JSON, lying type: a tar+gzip and a plain tar declared as simple-signing, at a .sig-looking tag.
    await pushRaw(
      'sig-typed-tgz',
      'apps/crafted',
      `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","config":${cfg},"layers":[${desc(SIG, evilTgz)}]}`,
      OCI_MANIFEST,
      sigTag(signed.digest).replace('.sig', '.att'),
    );
    await pushRaw(
      'sig-typed-tar',
      'apps/crafted',
      `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","config":${cfg},"layers":[${desc(SIG, evilTar)}]}`,
      OCI_MANIFEST,
      'tar',
    );
    // An index type with real layers and a folded "MediaType" (distribution, reading it as Go does, stores an image
    // manifest; JSON.parse sees an index), under platforms: child where indexes pass unverified, and at a referrers
    // tag-schema tag. (distribution refuses a plain index-with-layers on push; the unit tests cover that shape.)
    const confused = `{"schemaVersion":2,"mediaType":"${OCI_INDEX}","MediaType":"${OCI_MANIFEST}","config":${cfg},"layers":[${desc(OCI_LAYER_GZIP, evilTgz)}]}`;
    await pushRaw('index-with-layers', 'childonly/crafted', confused, OCI_MANIFEST);
    await pushRaw('referrers-tag-with-layers', 'apps/crafted', confused, OCI_MANIFEST, signed.digest.replace(':', '-'));
    sw = await startSigward({
      upstreams: [{ host: 'example.test', url: reg.url }],
      trust: { keys: { alice: { pem: alice.publicPem } } },
      policy: {
        default: 'deny',
        policies: [
          { name: 'apps', match: ['example.test/apps/*'], keys: ['alice'] },
          { name: 'strict-artifacts', match: ['example.test/verify/*'], keys: ['alice'], attachments: 'verify' },
          { name: 'no-artifacts', match: ['example.test/deny/*'], keys: ['alice'], attachments: 'deny' },
          { name: 'childonly', match: ['example.test/childonly/*'], keys: ['alice'], platforms: 'child' },
        ],
      },
    });
  });

  after(async () => {
    await sw?.stop();
    await reg?.stop();
  });

  test('a genuine cosign signature artifact passes without a signature of its own; its proof is remembered', async () => {
    const before = sw.upstreamRequests.filter((r) => r.url.includes('/blobs/')).length;
    const r = await pull(sw, 'apps/signed', sigTag(signed.digest));
    assert.equal(r.status, 200, r.error?.message);
    const blobGets = sw.upstreamRequests.filter((q) => q.url.includes('/blobs/')).length - before;
    assert.equal(blobGets, 1, 'the one signature layer was read to prove the artifact');
    const again = await pull(sw, 'apps/signed', sigTag(signed.digest));
    assert.equal(again.status, 200);
    assert.equal(
      sw.upstreamRequests.filter((q) => q.url.includes('/blobs/')).length - before,
      1,
      'a proven digest is not re-read',
    );
    assert.equal((await pull(sw, 'apps/signed', 'v1')).status, 200, 'and the signed image itself');
  });

  test('folded duplicate "Layers": 502 MANIFEST_INVALID by tag and by digest, not a signature artifact', async () => {
    for (const ref of ['v1', must(key(crafted, 'folded').digest, 'crafted.folded.digest')]) {
      const r = await pull(sw, 'apps/crafted', ref);
      assert.equal(r.status, 502, r.body.toString());
      assert.equal(r.error?.code, 'MANIFEST_INVALID');
      assert.match(must(r.error, 'r.error').message, /"Layers".*Go's case-insensitive matching/);
    }
  });

  test('layers declared as simple-signing that are a tar+gzip or a tar: denied by the policy, saying why', async () => {
    const cases: [string, string, RegExp][] = [
      [
        sigTag(signed.digest).replace('.sig', '.att'),
        'sig-typed-tgz',
        /gzip-compressed data, which a runtime could unpack/,
      ],
      ['tar', 'sig-typed-tar', /a tar archive, which a runtime could unpack/],
    ];
    for (const [ref, name, why] of cases) {
      for (const reference of [ref, must(key(crafted, name).digest, `digest of ${name}`)]) {
        const r = await pull(sw, 'apps/crafted', reference);
        assert.equal(r.status, 403, r.body.toString());
        assert.equal(r.error?.code, 'DENIED');
        assert.match(must(r.error, 'r.error').message, why);
        assert.match(must(r.error, 'r.error').message, /not served as a signature artifact/);
      }
    }
  });

  test('an index with layers and a folded MediaType under platforms: child is 502, not an index passed through', async () => {
    const r = await pull(sw, 'childonly/crafted', 'v1');
    assert.equal(r.status, 502, r.body.toString());
    assert.equal(r.error?.code, 'MANIFEST_INVALID');
    assert.match(must(r.error, 'r.error').message, /"MediaType"/);
  });

  test('a referrers tag-schema tag holding that index-with-layers is 502', async () => {
    const r = await pull(sw, 'apps/crafted', signed.digest.replace(':', '-'));
    assert.equal(r.status, 502, r.body.toString());
    assert.equal(r.error?.code, 'MANIFEST_INVALID');
  });

  test('attachments: verify — a signature artifact needs a signature of its own (the image still passes)', async () => {
    const r = await pull(sw, 'verify/signed', sigTag(signed.digest));
    assert.equal(r.status, 403, r.body.toString());
    assert.equal(r.error?.detail?.outcome, 'no-signatures', r.error?.message);
    assert.match(
      r.error?.message ?? '',
      /is denied by policy "strict-artifacts".*: no signatures were found for this digest/,
    );
    assert.equal((await pull(sw, 'verify/signed', 'v1')).status, 200);
  });

  test('attachments: deny — signature artifacts are refused, and nothing is read to decide it', async () => {
    const before = sw.upstreamRequests.filter((q) => q.url.includes('/blobs/') && q.url.includes('/deny/')).length;
    const r = await pull(sw, 'deny/signed', sigTag(signed.digest));
    assert.equal(r.status, 403, r.body.toString());
    assert.match(must(r.error, 'r.error').message, /attachments: deny/);
    assert.equal(
      sw.upstreamRequests.filter((q) => q.url.includes('/blobs/') && q.url.includes('/deny/')).length,
      before,
    );
    assert.equal((await pull(sw, 'deny/signed', 'v1')).status, 200);
  });

  test('an artifact past limits.attachmentLayers / attachmentLayerBytes is not proven: the policy decides, and says which limit', async () => {
    const payload = Buffer.from(
      `{"critical":{"identity":{"docker-reference":"example.test/apps/limits"},"image":{"docker-manifest-digest":"${signed.digest}"},"type":"cosign container image signature"},"optional":{"n":"2"}}`,
    );
    await pushBlob(reg, 'apps/limits', config);
    for (const b of [payload, Buffer.from(payload.toString().replace('"2"', '"3"'))])
      await pushBlob(reg, 'apps/limits', b);
    const two = `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","config":${desc(OCI_CONFIG, config)},"layers":[${desc(SIG, payload)},${desc(SIG, Buffer.from(payload.toString().replace('"2"', '"3"')))}]}`;
    await pushRaw('two-layer-sig', 'apps/limits', two, OCI_MANIFEST, 'two');
    const tight = await startSigward({
      upstreams: [{ host: 'example.test', url: reg.url }],
      trust: { keys: { alice: { pem: alice.publicPem } } },
      policy: { default: 'deny', policies: [{ name: 'apps', match: ['example.test/apps/*'], keys: ['alice'] }] },
      limits: { attachmentLayers: 1 },
    });
    const smallLayers = await startSigward({
      upstreams: [{ host: 'example.test', url: reg.url }],
      trust: { keys: { alice: { pem: alice.publicPem } } },
      policy: { default: 'deny', policies: [{ name: 'apps', match: ['example.test/apps/*'], keys: ['alice'] }] },
      limits: { attachmentLayerBytes: '1KiB', attachmentBytes: '1KiB' },
    });
    try {
      assert.equal((await pull(sw, 'apps/limits', 'two')).status, 200, 'within the default limits it is proven');
      const over = await pull(tight, 'apps/limits', 'two');
      assert.equal(over.status, 403, over.body.toString());
      assert.match(must(over.error, 'over.error').message, /2 layers, more than the 1 .*limits\.attachmentLayers/);
      assert.equal(
        tight.upstreamRequests.filter((q) => q.url.includes('/blobs/')).length,
        0,
        'nothing is read past the layer count',
      );
      const big = Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', pad: 'x'.repeat(2000) }));
      await pushBlob(reg, 'apps/limits', big);
      await pushRaw(
        'big-sbom',
        'apps/limits',
        `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","config":${desc(OCI_CONFIG, config)},"layers":[${desc('application/spdx+json', big)}]}`,
        OCI_MANIFEST,
        'sbom',
      );
      assert.equal(
        (await pull(sw, 'apps/limits', 'sbom')).status,
        200,
        'an SBOM attachment within the limits is proven',
      );
      const large = await pull(smallLayers, 'apps/limits', 'sbom');
      assert.equal(large.status, 403, large.body.toString());
      assert.match(must(large.error, 'large.error').message, /limits\.attachmentLayerBytes/);
    } finally {
      await tight.stop();
      await smallLayers.stop();
    }
  });

  test(
    'a signature artifact under a plain tag with the memory budget at one lookup: its early .sig ask gives its share back before the proof waits for one',
    { timeout: 60_000 },
    async () => {
      // The budget holds one lookup: a pull by tag asks for the .sig manifest early, holding that whole share; proving
      // the artifact inert then needs a share of its own, which must not wait behind the one its own pull holds.
      const payload = Buffer.from(
        `{"critical":{"identity":{"docker-reference":"example.test/apps/early"},"image":{"docker-manifest-digest":"${signed.digest}"},"type":"cosign container image signature"},"optional":null}`,
      );
      await pushBlob(reg, 'apps/early', config);
      await pushBlob(reg, 'apps/early', payload);
      await pushRaw(
        'early-sig',
        'apps/early',
        `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","config":${desc(OCI_CONFIG, config)},"layers":[${desc(SIG, payload)}]}`,
        OCI_MANIFEST,
        'plain',
      );
      const metrics = new WatchedMetrics();
      const small = await startSigward(
        {
          upstreams: [{ host: 'example.test', url: reg.url }],
          trust: { keys: { alice: { pem: alice.publicPem } } },
          policy: { default: 'deny', policies: [{ name: 'apps', match: ['example.test/apps/*'], keys: ['alice'] }] },
          limits: {
            signatureBytes: '64KiB',
            signatureBytesPerLookup: '64KiB',
            attachmentLayerBytes: '64KiB',
            attachmentBytes: '64KiB',
            signatureMemory: '64KiB',
          },
          metrics: { listen: 'main' },
        },
        { metrics },
      );
      try {
        const r = await pull(small, 'apps/early', 'plain');
        assert.equal(r.status, 200, r.body.toString());
        // Asked early, and answered before the pull proved it an artifact, or aborted then (mostly before it left).
        const answered = small.upstreamRequests.filter((q) =>
          q.url.endsWith(`${sigTag(must(key(crafted, 'early-sig').digest, 'digest'))}`),
        ).length;
        if (answered === 0) await metrics.failure(isAbort);
        assert.equal(answered + metrics.failures.filter(isAbort).length, 1, 'the .sig manifest was asked early');
        assert.equal(must(small.app, 'small.app').gate.memory.inUse, 0, 'every share given back');
      } finally {
        await small.stop();
      }
    },
  );
});

// An early `.sig` ask that no verification takes is aborted, not downloaded for nobody: sigward hangs up at once,
// mostly before the request even left (the upstream then never sees it), else the upstream sees it cut. The upstream
// is a scripted fake (answering slowly is fault injection); the metrics count sigward's own abort as no failure.
describe('gate: an early .sig ask that nothing takes is aborted at the upstream', () => {
  const HOST = 'early-abort.test';
  const alice = newKey('alice');
  const metrics = new WatchedMetrics();
  const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  const layer = gzipSync(makeTar({ 'bin/app': '#!/bin/sh\necho app\n' }));
  const desc = (mediaType: string, blob: Uint8Array) =>
    `{"mediaType":"${mediaType}","digest":"${sha256(blob)}","size":${blob.length}}`;
  /** A `.sig` body far larger than what is sent at once: what a slow answer still has to send. */
  const bigSig = Buffer.from(`{"schemaVersion":2,"padding":"${'x'.repeat(256 * 1024)}"}`);
  let fake: FakeUpstream;
  let sw: RunningSigward;

  before(async () => {
    fake = await startFakeUpstream();
    sw = await startSigward(
      {
        upstreams: [{ host: HOST, url: fake.url, retries: 0, allowPrivateNetworks: true }],
        trust: { keys: { alice: { pem: alice.publicPem } } },
        policy: { default: 'deny', policies: [{ name: 'apps', match: [`${HOST}/apps/*`], keys: ['alice'] }] },
        metrics: { listen: 'main' },
      },
      { metrics },
    );
  });
  after(async () => {
    await sw?.stop();
    await fake?.stop();
  });

  /** The `.sig` answer of `digest` in `repo`, slow: its head and first half KiB at once, the rest 16 KiB a tick.
   * `ended` tells, once the upstream's side of the exchange closed, whether it was served to the end or cut. */
  function slowSig(repo: string, digest: string, body: Uint8Array, mediaType = OCI_MANIFEST) {
    const path = `/v2/${repo}/manifests/${sigTag(digest)}`;
    const ended = Promise.withResolvers<'served' | 'cut'>();
    fake.route(path, (_req, res) => {
      res.writeHead(200, {
        'Content-Type': mediaType,
        'Content-Length': String(body.length),
        'Docker-Content-Digest': sha256(body),
      });
      let sent = Math.min(512, body.length >> 1);
      res.write(body.subarray(0, sent));
      res.on('close', () => ended.resolve(res.writableFinished ? 'served' : 'cut'));
      const timer = setInterval(() => {
        if (res.destroyed) return void clearInterval(timer);
        res.write(body.subarray(sent, (sent += 16 * 1024)));
        if (sent >= body.length) {
          clearInterval(timer);
          res.end();
        }
      }, 10);
    });
    return { ended: ended.promise, hits: () => fake.hits(path) };
  }

  const upstreamErrors = async (): Promise<number> =>
    parseExposition((await metrics.text()).body)
      .samples.filter((s) => s.name === 'sigward_upstream_errors_total' && s.labels.upstream === HOST)
      .reduce((n, s) => n + s.value, 0);

  const get = (repo: string, ref: string) =>
    rawGet(`${sw.url}/v2/${HOST}/${repo}/manifests/${ref}`, { headers: { Accept: ACCEPT } });

  /** After a pull whose early ask nothing took: sigward aborted it (reported to the metrics, counted as no upstream
   * failure), the upstream never served it to the end, and the memory budget has nothing in use. */
  async function assertAborted(sig: ReturnType<typeof slowSig>, from: number): Promise<void> {
    // Whichever comes first: the abort reported by sigward's upstream client, or the upstream's side closing.
    const first = await Promise.race([metrics.failure(isAbort, from).then(() => 'aborted' as const), sig.ended]);
    assert.notEqual(first, 'served', 'the .sig answer nobody would read was downloaded to the end');
    await metrics.failure(isAbort, from);
    assert.equal(metrics.failures.slice(from).filter(isAbort).length, 1, 'one request aborted: the early ask');
    if (sig.hits() > 0) assert.equal(await sig.ended, 'cut', 'the upstream saw the .sig request cut');
    assert.equal(await upstreamErrors(), 0, 'sigward_upstream_errors_total counted sigward aborting its own request');
    assert.equal(must(sw.app, 'sw.app').gate.memory.inUse, 0, 'the early ask gave its share back');
  }

  test('a manifest refused as malformed while its .sig answer is slow: 502 as before, the .sig GET aborted, nothing counted', async () => {
    // JSON.parse sees a signature layer, Go's decoder the tar+gzip: refused before anything is judged.
    const folded = Buffer.from(
      `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","config":${desc(OCI_CONFIG, config)},"layers":[${desc(SIG, config)}],"Layers":[${desc(OCI_LAYER_GZIP, layer)}]}`,
    );
    fake.route('/v2/apps/folded/manifests/v1', (req, res) => serveManifest(res, folded, OCI_MANIFEST, req.method));
    const sig = slowSig('apps/folded', sha256(folded), bigSig);
    const from = metrics.failures.length;

    const r = await get('apps/folded', 'v1');
    assert.equal(r.status, 502, r.body.toString());
    const error = must(ociErrorOf(r.body), 'the error body');
    assert.equal(error.code, 'MANIFEST_INVALID');
    assert.match(error.message, /"Layers".*Go's case-insensitive matching/);
    await assertAborted(sig, from);
  });

  test('a signature artifact under a plain tag while its own .sig answer is slow: proven and served, the .sig GET aborted', async () => {
    const payload = Buffer.from(
      `{"critical":{"identity":{"docker-reference":"${HOST}/apps/artifact"},"image":{"docker-manifest-digest":"${sha256(config)}"},"type":"cosign container image signature"},"optional":null}`,
    );
    const artifact = buildLegacySignatureImage({
      layers: [{ payload, signature: signBytes(alice.privateKey, payload) }],
    });
    const repo = 'apps/artifact';
    fake.route(`/v2/${repo}/manifests/plain`, (req, res) =>
      serveManifest(res, artifact.manifest, artifact.manifestMediaType, req.method),
    );
    for (const b of [artifact.config, ...artifact.layers])
      fake.route(`/v2/${repo}/blobs/${b.digest}`, (_req, res) => serveBlob(res, b.bytes));
    const sig = slowSig(repo, artifact.manifestDigest, bigSig);
    const from = metrics.failures.length;

    const r = await get(repo, 'plain');
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(sha256(r.body), artifact.manifestDigest);
    await assertAborted(sig, from);
  });

  test('a cold signed pull by tag verifies on its early .sig answer, which is read to the end, not aborted', async () => {
    const repo = 'apps/signed';
    const image = oneFileManifest(Buffer.from('a signed image\n'));
    const digest = sha256(image) as Digest;
    const payload = simpleSigningPayload({ dockerReference: `${HOST}/${repo}`, digest, optional: null });
    const sigImage = buildLegacySignatureImage({
      layers: [{ payload, signature: signBytes(alice.privateKey, payload) }],
    });
    fake.route(`/v2/${repo}/manifests/v1`, (req, res) => serveManifest(res, image, OCI_MANIFEST, req.method));
    for (const b of [sigImage.config, ...sigImage.layers])
      fake.route(`/v2/${repo}/blobs/${b.digest}`, (_req, res) => serveBlob(res, b.bytes));
    const sig = slowSig(repo, digest, sigImage.manifest, sigImage.manifestMediaType);
    const from = metrics.failures.length;

    // Two pulls at once: one asks early; the other shares that lookup, or finds its verdict.
    for (const r of await Promise.all([get(repo, 'v1'), get(repo, 'v1')])) {
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(r.headers['x-sigward-outcome'], 'verified');
    }
    assert.equal(await sig.ended, 'served', 'the early .sig answer was read whole');
    assert.equal(sig.hits(), 1, 'the lookup used the early answer instead of asking again');
    assert.equal(metrics.failures.slice(from).filter(isAbort).length, 0, 'nothing was aborted');
    assert.equal(await upstreamErrors(), 0);
    assert.equal(must(sw.app, 'sw.app').gate.memory.inUse, 0);
  });
});
