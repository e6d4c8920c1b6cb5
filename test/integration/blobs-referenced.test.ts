// blobs: { serve: referenced }: a /v2/ blob is served only when a manifest sigward served from the same repository
// lists it, remembered across restarts. Real distribution; skopeo as the real client that pulls an image and its
// cosign signature through it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { buildImage, buildMultiArch, pushImage, OCI_INDEX, OCI_MANIFEST, type TestImage } from '../helpers/images.ts';
import { startSigward, type ConfigInput, type RunningSigward } from '../helpers/sigward.ts';
import { newKey, signLegacy } from '../helpers/cosign.ts';
import { createSkopeo } from '../helpers/skopeo.ts';
import { tempDir } from '../helpers/proc.ts';
import { getBlob } from '../helpers/registry-client.ts';
import { at, must } from '../helpers/must.ts';

async function get(sw: RunningSigward, path: string, method: 'GET' | 'HEAD' = 'GET') {
  const r = await request(`${sw.url}/v2/example.test/${path}`, {
    method,
    headers: { accept: `${OCI_MANIFEST}, ${OCI_INDEX}` },
  });
  const body = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, body, text: body.toString() };
}

const blobGetsUpstream = (sw: RunningSigward): number =>
  sw.upstreamRequests.filter((q) => q.url.includes('/blobs/')).length;

describe('blobs.serve: referenced', () => {
  let reg: Registry;
  let sw: RunningSigward;
  const alice = newKey('alice');
  const cacheDir = tempDir('referenced-cache');
  let signed: TestImage;
  let unsigned: TestImage;
  let multi: TestImage;
  const config = (serve: 'all' | 'referenced'): ConfigInput => ({
    upstreams: [{ host: 'example.test', url: reg.url }],
    trust: { keys: { alice: { pem: alice.publicPem } } },
    policy: { default: 'deny', policies: [{ name: 'apps', match: ['example.test/apps/*'], keys: ['alice'] }] },
    cache: { dir: cacheDir },
    blobs: { serve },
  });
  const layerOf = (i: TestImage): string =>
    must(
      [...i.blobs.keys()].find((d) => d !== configOf(i)),
      '[...i.blobs.keys()].find((d) => d !== configOf(i))',
    );
  const configOf = (i: TestImage): string =>
    (JSON.parse(Buffer.from(i.bytes).toString()) as { config: { digest: string } }).config.digest;

  before(async () => {
    reg = await startRegistry();
    signed = buildImage({ files: { 'a.txt': 'signed\n' } });
    unsigned = buildImage({ files: { 'a.txt': 'unsigned\n' } });
    multi = buildMultiArch({ 'm.txt': 'multi\n' });
    await pushImage(reg, 'apps/signed', 'v1', signed);
    await signLegacy(reg, 'apps/signed', signed.digest, { keys: [alice] });
    await pushImage(reg, 'apps/other', 'v1', signed); // the same blobs in another repository, never pulled there
    await pushImage(reg, 'apps/unsigned', 'v1', unsigned);
    await pushImage(reg, 'apps/multi', 'v1', multi);
    await signLegacy(reg, 'apps/multi', multi.digest, { keys: [alice] });
    sw = await startSigward(config('referenced'));
  });
  after(async () => {
    await sw?.stop();
    await reg?.stop();
  });

  test('a layer of a denied image is refused by digest, GET and HEAD, without asking the upstream', async () => {
    const before = blobGetsUpstream(sw);
    assert.equal((await get(sw, 'apps/unsigned/manifests/v1')).status, 403);
    for (const method of ['GET', 'HEAD'] as const) {
      const r = await get(sw, `apps/unsigned/blobs/${layerOf(unsigned)}`, method);
      assert.equal(r.status, 403, r.text);
      if (method === 'GET')
        assert.match(r.text, /not listed by any manifest sigward has served .*blobs\.serve is referenced/);
    }
    assert.equal(blobGetsUpstream(sw), before);
  });

  test('blobs of an allowed image are served once its manifest was, in that repository only', async () => {
    assert.equal((await get(sw, `apps/signed/blobs/${layerOf(signed)}`)).status, 403, 'not before the manifest');
    assert.equal((await get(sw, 'apps/signed/manifests/v1')).status, 200);
    for (const d of [layerOf(signed), configOf(signed)]) {
      const r = await get(sw, `apps/signed/blobs/${d}`);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(new Uint8Array(r.body), new Uint8Array(await getBlob(reg, 'apps/signed', d)));
      assert.equal((await get(sw, `apps/signed/blobs/${d}`, 'HEAD')).status, 200);
    }
    assert.equal(
      (await get(sw, `apps/other/blobs/${layerOf(signed)}`)).status,
      403,
      'another repository has its own manifests to pull',
    );
  });

  test('a multi-arch pull: the index, then each platform manifest, then its blobs', async () => {
    assert.equal((await get(sw, 'apps/multi/manifests/v1')).status, 200);
    for (const child of multi.manifests) {
      assert.equal(
        (await get(sw, `apps/multi/blobs/${layerOf(child)}`)).status,
        403,
        'an index lists manifests, not blobs',
      );
    }
    for (const child of multi.manifests) {
      assert.equal((await get(sw, `apps/multi/manifests/${child.digest}`)).status, 200);
      assert.equal((await get(sw, `apps/multi/blobs/${layerOf(child)}`)).status, 200);
    }
  });

  test('skopeo copies a signed image and its cosign signature through sigward', async () => {
    const skopeo = createSkopeo({ sigward: sw.host, prefix: 'example.test', sigstoreAttachments: true });
    try {
      const out = tempDir('dir-out');
      const r = await skopeo.run(['copy', 'docker://example.test/apps/signed:v1', `dir:${join(out, 'signed')}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(existsSync(join(out, 'signed', 'signature-1')), 'the cosign signature came along');
      const bad = await skopeo.run(['copy', 'docker://example.test/apps/unsigned:v1', `dir:${join(out, 'unsigned')}`]);
      assert.notEqual(bad.code, 0);
    } finally {
      skopeo.remove();
    }
    const sig = await get(sw, `apps/signed/manifests/${signed.digest.replace(':', '-')}.sig`);
    assert.equal(sig.status, 200);
    const sigLayer = at((JSON.parse(sig.text) as { layers: { digest: string }[] }).layers, 0).digest;
    assert.equal(
      (await get(sw, `apps/signed/blobs/${sigLayer}`)).status,
      200,
      'the signature artifact was served, so its layer is',
    );
  });

  test('what was served is remembered across a restart; serve: all serves any blob', async () => {
    await sw.stop();
    const file = join(cacheDir, 'referenced-blobs.txt');
    assert.ok(existsSync(file));
    assert.match(readFileSync(file, 'utf8'), new RegExp(`example\\.test/apps/signed@${layerOf(signed)}`));
    sw = await startSigward(config('referenced'));
    const before = sw.upstreamRequests.length;
    assert.equal((await get(sw, `apps/signed/blobs/${layerOf(signed)}`)).status, 200);
    assert.equal(
      sw.upstreamRequests.filter((q) => q.url.includes('/manifests/')).length,
      before,
      'no manifest fetched to decide',
    );
    assert.equal((await get(sw, `apps/unsigned/blobs/${layerOf(unsigned)}`)).status, 403);
    const open = await startSigward(config('all'));
    try {
      assert.equal((await get(open, `apps/unsigned/blobs/${layerOf(unsigned)}`)).status, 200);
    } finally {
      await open.stop();
    }
  });
});
