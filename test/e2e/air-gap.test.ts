// The air-gap round trip, end to end with real registries and real clients: an image signed outside (multi-arch
// index, a legacy .sig signature by one key and a v3 bundle referrer by another, both made by `sigward sign`) is
// saved with `sigward save` from the outside registry, the outside registry is stopped (no route is left), the layout
// is loaded with `sigward load` into the inside registry, and the sigward daemon, configured with only the inside
// registry and the pinned keys, serves it to skopeo: both signatures came across, since the policy needs both. A
// layout with an altered or missing blob is refused by load with nothing pushed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { encryptCosignKey } from '../../src/sign/encrypted-key.ts';
import { newKey } from '../helpers/cosign.ts';
import { buildBigImage, buildMultiArch, getManifest, pushBlob, pushImage, pushManifest } from '../helpers/images.ts';
import { at, must } from '../helpers/must.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { runCli } from '../helpers/run-cli.ts';
import { startSigwardProcess } from '../helpers/sigward.ts';
import { createSkopeo } from '../helpers/skopeo.ts';

const PASSWORD = 'air-gap';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

interface IndexJson {
  manifests: { mediaType: string; digest: string; size: number; annotations: Record<string, string> }[];
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const tagOf = (digest: string): string => digest.replace(':', '-');

describe('air gap: sign, save outside, load inside, pull through sigward', () => {
  let outside: Registry;
  let inside: Registry;
  let dir: string;
  const release = newKey('release');
  const ci = newKey('ci');
  const image = buildMultiArch({ 'app.txt': 'carried across the air gap\n' });
  const env = (extra: Record<string, string> = {}) => ({
    DOCKER_CONFIG: join(dir, 'no-docker'),
    COSIGN_PASSWORD: PASSWORD,
    ...extra,
  });
  const key = (name: string): string => join(dir, `${name}.key`);
  const layoutDir = (): string => join(dir, 'layout');

  before(async () => {
    outside = await startRegistry();
    inside = await startRegistry();
    dir = tempDir('air-gap');
    mkdirSync(join(dir, 'no-docker'));
    for (const k of [release, ci]) {
      writeFileSync(key(k.name), encryptCosignKey(k.privateKey, PASSWORD));
      writeFileSync(join(dir, `${k.name}.pub`), k.publicPem);
    }
    await pushImage(outside, 'team/app', 'v1', image);
  });
  after(async () => {
    await outside.stop();
    await inside.stop();
    removeTempDir(dir);
  });

  test('save: refusals write nothing; a large transfer reports progress', async () => {
    const missing = await runCli(['save', '--dir', join(dir, 'nope'), `${outside.host}/team/absent:v1`], env());
    assert.equal(missing.code, 1, missing.err.join('\n'));
    assert.equal(missing.err.length, 1, missing.err.join('\n'));
    assert.ok(!existsSync(join(dir, 'nope')), 'no layout');
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.includes('.tmp-')),
      [],
      'no temporary directory left behind',
    );
    mkdirSync(join(dir, 'full'));
    writeFileSync(join(dir, 'full', 'x'), 'x');
    const full = await runCli(['save', '--dir', join(dir, 'full'), `${outside.host}/team/app:v1`], env());
    assert.equal(full.code, 2);
    assert.match(at(full.err, 0), /not an empty directory/);
    assert.equal((await runCli(['save', `${outside.host}/team/app:v1`], env())).code, 2, '--dir is required');

    const big = await buildBigImage({ mib: 9, dir });
    await pushImage(outside, 'team/big', 'v1', big);
    const saved = await runCli(['save', '--dir', join(dir, 'big'), `${outside.host}/team/big:v1`], env());
    assert.equal(saved.code, 0, saved.err.join('\n'));
    assert.ok(
      saved.err.some((l) => /^sigward save: 9\.0 MiB of 9\.0 MiB \(100%\)$/.test(l)),
      saved.err.join('\n'),
    );
    const layer = join(
      dir,
      'big',
      'blobs',
      'sha256',
      at(JSON.parse(big.bytes.toString()).layers as { digest: string }[], 0).digest.slice(7),
    );
    assert.equal(sha256(readFileSync(layer)), sha256(readFileSync(big.layerFile)), 'the 9 MiB layer, byte-exact');
  });

  test('the round trip: pinned keys inside verify what was signed outside', async () => {
    // Outside: sign (a legacy signature by release, a bundle by ci), then save. Only the outside registry is used.
    const ref = `${outside.host}/team/app:v1`;
    const legacy = await runCli(['sign', '--key', key('release'), ref], env());
    assert.equal(legacy.code, 0, legacy.err.join('\n'));
    const bundle = await runCli(['sign', '--format', 'bundle', '--key', key('ci'), ref], env());
    assert.equal(bundle.code, 0, bundle.err.join('\n'));
    const referrer = at(bundle.out, 0).split('@')[1] ?? '';
    // A platform manifest signed on its own (cosign sign --recursive does that), and an SBOM attached to the index.
    const child = must(image.manifests[1], 'arm64 manifest');
    const childSig = await runCli(['sign', '--key', key('release'), `${outside.host}/team/app@${child.digest}`], env());
    assert.equal(childSig.code, 0, childSig.err.join('\n'));
    const sbom = Buffer.from('{"spdxVersion":"SPDX-2.3"}');
    await pushBlob(outside, 'team/app', sbom);
    await pushBlob(outside, 'team/app', Buffer.from('{}'));
    const sbomManifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: 2, digest: sha256(Buffer.from('{}')) },
        layers: [{ mediaType: 'text/spdx+json', size: sbom.length, digest: sha256(sbom) }],
      }),
    );
    await pushManifest(
      outside,
      'team/app',
      `${tagOf(image.digest)}.sbom`,
      sbomManifest,
      'application/vnd.oci.image.manifest.v1+json',
    );
    const saved = await runCli(['save', '--dir', layoutDir(), ref], env());
    assert.equal(saved.code, 0, saved.err.join('\n'));

    // The layout: every file named by its digest, index.json naming what each entry is.
    assert.deepEqual(JSON.parse(readFileSync(join(layoutDir(), 'oci-layout'), 'utf8')), {
      imageLayoutVersion: '1.0.0',
    });
    const blobs = join(layoutDir(), 'blobs', 'sha256');
    for (const name of readdirSync(blobs)) assert.equal(sha256(readFileSync(join(blobs, name))), `sha256:${name}`);
    const index = JSON.parse(readFileSync(join(layoutDir(), 'index.json'), 'utf8')) as IndexJson;
    const kinds = index.manifests.map((m) => [
      m.annotations['dev.sigward.kind'],
      m.annotations['org.opencontainers.image.ref.name'],
      m.annotations['dev.sigward.subject'],
    ]);
    assert.deepEqual(kinds, [
      ['image', 'v1', undefined],
      ['signature', `${tagOf(image.digest)}.sig`, image.digest],
      ['sbom', `${tagOf(image.digest)}.sbom`, image.digest],
      ['referrer', undefined, image.digest],
      ['referrers-index', tagOf(image.digest), image.digest],
      ['signature', `${tagOf(child.digest)}.sig`, child.digest],
    ]);
    assert.equal(at(index.manifests, 0).digest, image.digest);
    assert.equal(at(index.manifests, 3).digest, referrer);
    for (const child of image.manifests) {
      assert.deepEqual(readFileSync(join(blobs, child.digest.slice(7))), child.bytes, 'every platform, byte-exact');
      for (const d of child.blobs.keys()) assert.ok(existsSync(join(blobs, d.slice(7))), `blob ${d}`);
    }

    // No route back: the outside registry is gone before anything happens inside.
    await outside.stop();

    const loaded = await runCli(['load', '--dir', layoutDir(), `${inside.host}/mirror/app`], env());
    assert.equal(loaded.code, 0, loaded.err.join('\n'));
    assert.deepEqual(
      loaded.out.map((l) => l.split('@')[0]),
      [
        `${inside.host}/mirror/app:v1`,
        `${inside.host}/mirror/app:${tagOf(image.digest)}.sig`,
        `${inside.host}/mirror/app:${tagOf(image.digest)}.sbom`,
        `${inside.host}/mirror/app:${tagOf(child.digest)}.sig`,
        `${inside.host}/mirror/app:${tagOf(image.digest)}`,
      ],
    );
    const served = await getManifest(inside, 'mirror/app', 'v1');
    assert.deepEqual(served.bytes, image.bytes, 'the index, byte-exact: the digest that was signed');
    const listed = await getManifest(inside, 'mirror/app', tagOf(image.digest), OCI_INDEX);
    assert.ok(listed.bytes.toString().includes(referrer), 'the referrers tag index lists the bundle');

    // Loading again sends nothing new and changes nothing.
    const again = await runCli(['load', '--dir', layoutDir(), `${inside.host}/mirror/app`], env());
    assert.equal(again.code, 0, again.err.join('\n'));
    assert.match(at(again.err, -1), /\(0 sent,/);

    // Inside: sigward knows only the inside registry and the two pinned public keys; the policy needs both, so both
    // the legacy signature and the bundle must have come across.
    const sw = await startSigwardProcess({
      upstreams: [{ host: 'registry.internal', url: inside.url }],
      trust: { keys: { release: { file: join(dir, 'release.pub') }, ci: { file: join(dir, 'ci.pub') } } },
      policy: {
        default: 'deny',
        policies: [{ name: 'mirror', match: ['registry.internal/mirror/**'], keys: ['release', 'ci'], threshold: 2 }],
      },
    });
    const skopeo = createSkopeo({ sigward: sw.host, prefix: 'registry.internal' });
    try {
      const out = join(dir, 'pulled');
      const pulled = await skopeo.copyAll('registry.internal/mirror/app:v1', out, 'v1');
      assert.equal(pulled.code, 0, pulled.stderr);
      const pulledIndex = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')) as IndexJson;
      assert.equal(at(pulledIndex.manifests, 0).digest, image.digest, 'skopeo got the signed index');
      for (const child of image.manifests) {
        assert.deepEqual(readFileSync(join(out, 'blobs', 'sha256', child.digest.slice(7))), child.bytes);
      }
    } finally {
      skopeo.remove();
      await sw.stop();
    }
    const wrongKey = await startSigwardProcess({
      upstreams: [{ host: 'registry.internal', url: inside.url }],
      trust: { keys: { other: { pem: newKey('other').publicPem } } },
      policy: { default: 'deny', policies: [{ name: 'mirror', match: ['registry.internal/**'], keys: ['other'] }] },
    });
    try {
      const r = await request(`${wrongKey.url}/v2/registry.internal/mirror/app/manifests/v1`, {
        headers: { accept: OCI_INDEX },
      });
      await r.body.dump();
      assert.equal(r.statusCode, 403, 'a key that signed nothing gets nothing');
    } finally {
      await wrongKey.stop();
    }
  });

  test('load refuses a layout with an altered or a missing blob, and pushes nothing', async () => {
    const index = JSON.parse(readFileSync(join(layoutDir(), 'index.json'), 'utf8')) as IndexJson;
    const child = must(image.manifests[0], 'platform manifest');
    const layerDigest = at(JSON.parse(child.bytes.toString()).layers as { digest: string }[], 0).digest;
    assert.ok(index.manifests.length > 0);
    for (const [name, damage] of [
      [
        'altered',
        (blob: string) => writeFileSync(blob, Buffer.concat([readFileSync(blob).subarray(0, -1), Buffer.from('!')])),
      ],
      ['missing', (blob: string) => rmSync(blob)],
    ] as const) {
      const copy = join(dir, `layout-${name}`);
      cpSync(layoutDir(), copy, { recursive: true });
      damage(join(copy, 'blobs', 'sha256', layerDigest.slice(7)));
      const r = await runCli(['load', '--dir', copy, `${inside.host}/${name}/app`], env());
      assert.equal(r.code, 2, r.err.join('\n'));
      assert.equal(r.err.length, 1, r.err.join('\n'));
      assert.match(at(r.err, 0), name === 'altered' ? /does not match its digest|bytes, but/ : /is missing/);
      assert.match(at(r.err, 0), /nothing was pushed/);
      const tags = await request(`${inside.url}/v2/${name}/app/tags/list`);
      await tags.body.dump();
      assert.equal(tags.statusCode, 404, 'the repository was never created');
    }
  });
});
