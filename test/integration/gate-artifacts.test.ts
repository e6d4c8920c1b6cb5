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
import { ociErrorOf } from '../helpers/raw-http.ts';
import { newKey, signLegacy } from '../helpers/cosign.ts';
import { makeTar } from '../helpers/tar.ts';
import { key, must } from '../helpers/must.ts';

const SIG = 'application/vnd.dev.cosign.simplesigning.v1+json';
const ACCEPT = `${OCI_MANIFEST}, ${OCI_INDEX}`;
const sigTag = (digest: string) => `${digest.replace(':', '-')}.sig`;

async function pull(sw: RunningSigward, repo: string, ref: string) {
  const r = await request(`${sw.url}/v2/example.test/${repo}/manifests/${ref}`, { headers: { accept: ACCEPT } });
  const body = Buffer.from(await r.body.arrayBuffer());
  const error = r.statusCode !== 200 ? ociErrorOf(body) : undefined;
  return { status: r.statusCode, body, error };
}

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
      const small = await startSigward({
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
      });
      try {
        const r = await pull(small, 'apps/early', 'plain');
        assert.equal(r.status, 200, r.body.toString());
        assert.equal(
          small.upstreamRequests.filter((q) =>
            q.url.endsWith(`${sigTag(must(key(crafted, 'early-sig').digest, 'digest'))}`),
          ).length,
          1,
          'the .sig manifest was asked early',
        );
        assert.equal(must(small.app, 'small.app').gate.memory.inUse, 0, 'every share given back');
      } finally {
        await small.stop();
      }
    },
  );
});
