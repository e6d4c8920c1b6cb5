// A hostile `.sig` image against a real distribution registry: it must not turn one pull of an unsigned image into
// an upstream request (and a megabyte held) per listed layer, nor leave a denial in the verdict cache whose size
// grows with the number of layers. Counted: upstream blob GETs made by sigward; bounded: the 403 body and the
// verdict cache entry. A valid signature listed before the junk is still found.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { VerdictCache } from '../../src/proxy/verdicts.ts';
import { newKey } from '../helpers/cosign.ts';
import { pushHostileSig } from '../helpers/hostile-sig.ts';
import { buildImage, pushImage, type TestImage } from '../helpers/images.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';
import { key, must } from '../helpers/must.ts';

const ACCEPT = 'application/vnd.oci.image.manifest.v1+json';
/** The 403 body and the stored verdict stay this small whatever the `.sig` image lists. */
const MAX_BODY = 16 * 1024;
const MAX_ENTRY = 96 * 1024;

describe('a hostile .sig image', () => {
  let reg: Registry;
  const alice = newKey('alice');
  const images: Record<string, TestImage> = {};
  const config = (limits: Record<string, unknown> = {}) => ({
    upstreams: [{ host: 'example.test', url: reg.url }],
    limits,
    trust: { keys: { alice: { pem: alice.publicPem } } },
    policy: { policies: [{ name: 'hostile', match: ['example.test/hostile/*'], keys: ['alice'] }] },
  });

  before(async () => {
    reg = await startRegistry({ accessLog: false });
    for (const name of ['same', 'distinct', 'valid-first']) {
      images[name] = buildImage({ files: { 'a.txt': `unsigned image ${name}\n` } });
      await pushImage(reg, `hostile/${name}`, 'v1', key(images, name));
    }
    await pushHostileSig(reg, 'hostile/same', key(images, 'same').digest, {
      layers: 1000,
      blob: 'same',
      blobBytes: 1024 * 1024,
    });
    await pushHostileSig(reg, 'hostile/distinct', key(images, 'distinct').digest, { layers: 1000, blob: 'distinct' });
    await pushHostileSig(reg, 'hostile/valid-first', key(images, 'valid-first').digest, {
      layers: 1000,
      blob: 'distinct',
      validFirst: { key: alice, dockerReference: 'example.test/hostile/valid-first' },
      // Its 999 junk layers are hostile/distinct's: mounted, not uploaded a second time (the registry holds the
      // same blobs under this repository either way).
      mountFrom: 'hostile/distinct',
    });
  });

  after(async () => {
    await reg?.stop();
  });

  async function pull(sw: RunningSigward, name: string): Promise<{ status: number; text: string }> {
    const r = await request(`${sw.url}/v2/example.test/hostile/${name}/manifests/v1`, { headers: { accept: ACCEPT } });
    return { status: r.statusCode, text: await r.body.text() };
  }

  const blobGets = (sw: RunningSigward, name: string): number =>
    sw.upstreamRequests.filter((q) => q.method === 'GET' && q.url.includes(`/hostile/${name}/blobs/`)).length;

  const entryBytes = (sw: RunningSigward, name: string): number | undefined =>
    must(sw.app, 'sw.app').verdicts.entryBytes(
      VerdictCache.key(
        must(sw.app, 'sw.app').gate.policyHash,
        `example.test/hostile/${name}`,
        key(images, name).digest,
        'single',
      ),
    );

  test('1000 layers naming one 1 MiB blob: one blob GET, one signature checked, a small denial cached', async (t) => {
    const sw = await startSigward(config());
    try {
      const r = await pull(sw, 'same');
      assert.equal(r.status, 403, r.text);
      assert.equal(blobGets(sw, 'same'), 1, 'the shared blob is fetched once');
      assert.match(r.text, /1 signature found/);
      assert.match(r.text, /layer 1 of 1000 \(and 999 identical layers, read once\)/);
      assert.ok(r.text.length < MAX_BODY, `403 body is ${r.text.length} bytes`);
      const size = entryBytes(sw, 'same');
      t.diagnostic(`403 body ${r.text.length} bytes, cached verdict ${size} bytes`);
      assert.ok(size !== undefined && size < MAX_ENTRY, `cached verdict accounts ${size} bytes`);
    } finally {
      await sw.stop();
    }
  });

  test('1000 distinct tiny blobs: 100 blob GETs (limits.signaturesPerLookup), the rest reported once, a bounded denial', async (t) => {
    const sw = await startSigward(config());
    try {
      const r = await pull(sw, 'distinct');
      assert.equal(r.status, 403, r.text);
      assert.equal(blobGets(sw, 'distinct'), 100);
      assert.match(r.text, /900 signatures not read \(the first: layer 101\): over limits\.signaturesPerLookup \(100 /);
      assert.match(
        r.text,
        /not counted: over-limit: 900 signatures not read/,
        'signatures past a cap are reported as over-limit, not malformed',
      );
      assert.match(r.text, /and \d+ more \(same reason: not counted: /);
      assert.ok(r.text.length < MAX_BODY, `403 body is ${r.text.length} bytes`);
      const size = entryBytes(sw, 'distinct');
      t.diagnostic(`403 body ${r.text.length} bytes, cached verdict ${size} bytes`);
      assert.ok(size !== undefined && size < MAX_ENTRY, `cached verdict accounts ${size} bytes`);
      assert.equal(must(sw.app, 'sw.app').verdicts.bytes, size, 'the cache accounts exactly its one entry');
    } finally {
      await sw.stop();
    }
  });

  test('the caps come from the limits section', async () => {
    const sw = await startSigward(config({ signaturesPerLookup: 10, signatureFetches: 2 }));
    try {
      const r = await pull(sw, 'distinct');
      assert.equal(r.status, 403, r.text);
      assert.equal(blobGets(sw, 'distinct'), 10);
      assert.match(r.text, /990 signatures not read \(the first: layer 11\): over limits\.signaturesPerLookup \(10 /);
    } finally {
      await sw.stop();
    }
  });

  test('a valid signature listed before 999 junk layers is found', async () => {
    const sw = await startSigward(config());
    try {
      const r = await pull(sw, 'valid-first');
      assert.equal(r.status, 200, r.text);
      // 99 junk layers read; the valid one is cosign's own payload for this repository, rebuilt without a GET.
      assert.equal(blobGets(sw, 'valid-first'), 99);
    } finally {
      await sw.stop();
    }
  });
});
