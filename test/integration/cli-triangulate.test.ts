// `sigward triangulate` (src/main.ts in process; as a child process, bin/sigward.mjs, for an exit code and the
// separation of stdout and stderr), against a real distribution registry on 127.0.0.1:
// the `.sig`, `.att` and `.sbom` tags of the digest a tag names (cosign's layout), the referrers that carry Sigstore
// bundles (through the referrers tag schema: distribution 2.8 has no referrers API; a referrer of another kind is
// not listed), COSIGN_REPOSITORY and a policy's signatureRepository, Docker Hub names, and the exit codes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { MT } from '../../src/oci/mediatypes.ts';
import { sigwardCli, sigwardInProcess } from '../helpers/cli-process.ts';
import { newKey, pushBundleReferrer, signBundle, type ReferrerEntry } from '../helpers/cosign.ts';
import { buildImage, pushBlob, pushImage, pushManifest, sha256 } from '../helpers/images.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';

const alice = newKey('alice');
const bob = newKey('bob');

describe('sigward triangulate', () => {
  let reg: Registry;
  let dir: string;
  const image = buildImage({ files: { 'hello.txt': 'triangulate me\n' } });
  const unsigned = buildImage({ files: { 'hello.txt': 'nothing here\n' } });
  const hex = image.digest.slice('sha256:'.length);
  /** The bundle referrers of `image` in `app`, in the order triangulate lists them (by digest). */
  let bundles: string[] = [];
  let stored: string;

  /** An SPDX document attached as a referrer: listed in the index, but it carries no Sigstore bundle. */
  async function sbomReferrer(repo: string): Promise<ReferrerEntry> {
    const config = Buffer.from('{}');
    const layer = Buffer.from('{"spdxVersion":"SPDX-2.3"}');
    await pushBlob(reg, repo, config);
    await pushBlob(reg, repo, layer);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        artifactType: 'application/spdx+json',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(config), size: config.length },
        layers: [{ mediaType: 'application/spdx+json', digest: sha256(layer), size: layer.length }],
        subject: { mediaType: image.mediaType, digest: image.digest, size: image.size },
      }),
    );
    const digest = sha256(manifest);
    await pushManifest(reg, repo, digest, manifest, MT.ociManifest);
    return { mediaType: MT.ociManifest, digest, size: manifest.length, artifactType: 'application/spdx+json' };
  }

  before(async () => {
    dir = tempDir('cli-triangulate');
    reg = await startRegistry();
    await pushImage(reg, 'app', 'v1', image);
    await pushImage(reg, 'app', 'unsigned', unsigned);
    const sbom = await sbomReferrer('app');
    const first = await signBundle(reg, 'app', { key: alice, subject: image }, [sbom]);
    const second = await signBundle(reg, 'app', { key: bob, subject: image }, first.entries);
    bundles = [first.referrer, second.referrer].sort();
    // Signatures kept in another repository (cosign's COSIGN_REPOSITORY).
    await pushImage(reg, 'sigs/store', 'unrelated', unsigned);
    stored = (await pushBundleReferrer(reg, 'sigs/store', Buffer.from('{"not":"checked"}'), image)).referrer;
  });

  after(async () => {
    await reg?.stop();
    if (dir) removeTempDir(dir);
  });

  const at = (ref: string): string => `${reg.host}/app${ref}`;

  test('the .sig, .att and .sbom tags of the digest the tag names, and by digest the same', async () => {
    for (const ref of [':v1', `@${image.digest}`]) {
      for (const [type, suffix] of [
        [undefined, 'sig'],
        ['signature', 'sig'],
        ['attestation', 'att'],
        ['sbom', 'sbom'],
      ] as const) {
        const r = await sigwardInProcess(['triangulate', ...(type === undefined ? [] : ['--type', type]), at(ref)]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, `${reg.host}/app:sha256-${hex}.${suffix}\n`, `${ref} ${type ?? ''}`);
        assert.equal(r.stderr, '');
      }
    }
  });

  test('--type bundle: the referrers that carry a Sigstore bundle, not the SBOM referrer next to them', async () => {
    const r = await sigwardInProcess(['triangulate', '--type', 'bundle', at(':v1')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, bundles.map((d) => `${reg.host}/app@${d}\n`).join(''));
    assert.equal(r.stderr, '');
    const none = await sigwardInProcess(['triangulate', '--type', 'bundle', at(':unsigned')]);
    assert.equal(none.code, 0);
    assert.equal(none.stdout, '');
    assert.equal(none.stderr, `no Sigstore bundle is stored as a referrer of ${reg.host}/app@${unsigned.digest}\n`);
  });

  test('COSIGN_REPOSITORY: the tags and referrers are in that repository, the digest still the image’s', async () => {
    const env = { COSIGN_REPOSITORY: `${reg.host}/sigs/store` };
    const sig = await sigwardInProcess(['triangulate', at(':v1')], { env });
    assert.equal(sig.stdout, `${reg.host}/sigs/store:sha256-${hex}.sig\n`);
    const att = await sigwardInProcess(['triangulate', '--type', 'attestation', at(':v1')], { env });
    assert.equal(att.stdout, `${reg.host}/sigs/store:sha256-${hex}.att\n`);
    const bundle = await sigwardInProcess(['triangulate', '--type', 'bundle', at(':v1')], { env });
    assert.equal(bundle.code, 0, bundle.stderr);
    assert.equal(bundle.stdout, `${reg.host}/sigs/store@${stored}\n`);
  });

  test('--config: the policy’s signatureRepository for the image, the config’s upstream names', async () => {
    const config = join(dir, 'sigward.yaml');
    writeFileSync(
      config,
      stringify({
        upstreams: [{ host: 'example.test', url: reg.url }],
        trust: { keys: { alice: { pem: alice.publicPem } } },
        policy: {
          policies: [
            {
              name: 'app',
              match: ['example.test/app'],
              keys: ['alice'],
              signatureRepository: 'example.test/sigs/store',
            },
            { name: 'rest', match: ['example.test/**'], keys: ['alice'] },
          ],
        },
      }),
    );
    const app = await sigwardInProcess(['triangulate', '--config', config, 'example.test/app:v1']);
    assert.equal(app.code, 0, app.stderr);
    assert.equal(app.stdout, `example.test/sigs/store:sha256-${hex}.sig\n`);
    const bundle = await sigwardInProcess([
      'triangulate',
      '--config',
      config,
      '--type',
      'bundle',
      'example.test/app:v1',
    ]);
    assert.equal(bundle.stdout, `example.test/sigs/store@${stored}\n`);
    // Another repository under the catch-all policy: next to the image. COSIGN_REPOSITORY is noted, not used.
    const env = { COSIGN_REPOSITORY: `${reg.host}/elsewhere` };
    const rest = await sigwardInProcess(
      ['triangulate', '--config', config, `example.test/sigs/store@${image.digest}`],
      {
        env,
      },
    );
    assert.equal(rest.stdout, `example.test/sigs/store:sha256-${hex}.sig\n`);
    assert.match(rest.stderr, /^note: COSIGN_REPOSITORY is not used with --config/);
  });

  test('Docker Hub names as docker reads them: no registry means docker.io, one segment means library/', async () => {
    // By digest: the tags follow from the digest, no registry is contacted.
    const r = await sigwardInProcess(['triangulate', `busybox@${image.digest}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `docker.io/library/busybox:sha256-${hex}.sig\n`);
  });

  test('exit codes: 1 when the tag cannot be resolved, 2 for bad input, 0 for --help', async () => {
    const missing = await sigwardCli(['triangulate', at(':nope')]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /^sigward triangulate: /);
    assert.equal(missing.stderr.trimEnd().split('\n').length, 1, missing.stderr);
    for (const [args, message] of [
      [['--type', 'provenance', at(':v1')], /--type must be signature, attestation, sbom or bundle/],
      [[], /IMAGE is missing/],
      [[at(':v1'), at(':v2')], /give one IMAGE/],
      [['Not/A/Name:x'], /invalid repository name/],
    ] as const) {
      const r = await sigwardInProcess(['triangulate', ...args]);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    }
    const help = await sigwardInProcess(['triangulate', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: sigward triangulate /);
  });
});
