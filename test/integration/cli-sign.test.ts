// `sigward sign` against real distribution registries: the legacy .sig image laid out byte for byte as cosign lays it
// (checked against the builders and the structure of real cosign signature images), appended to by a second signer,
// not duplicated by the same one; v3 bundles as referrers listed in the referrers tag index; COSIGN_REPOSITORY;
// credentials from --config (token auth, push scope asked up front) and from docker's config.json; cosign's own
// encrypted key files; and every refusal: one line, exit 2 or 1, nothing written. What was signed is pulled through
// the daemon with a policy trusting the key (served) and one that does not (refused).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { verify } from 'node:crypto';
import { join } from 'node:path';
import { request } from 'undici';
import { stringify } from 'yaml';
import { encryptCosignKey } from '../../src/sign/encrypted-key.ts';
import { buildLegacySignatureImage } from '../../src/sign/legacy-image.ts';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { newKey, type TestKey } from '../helpers/cosign.ts';
import { buildImage, buildMultiArch, getBlob, getManifest, pushImage, type TestImage } from '../helpers/images.ts';
import { at, must } from '../helpers/must.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { runCli } from '../helpers/run-cli.ts';
import { startSigward } from '../helpers/sigward.ts';

const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;
const PASSWORD = 'correct horse';

interface SigManifest {
  mediaType: string;
  config: { digest: string; size: number };
  layers: { mediaType: string; digest: string; size: number; annotations: Record<string, string> }[];
}

describe('sigward sign', () => {
  let reg: Registry;
  let dir: string;
  let noDocker: string;
  const alice = newKey('alice');
  const bob = newKey('bob', 'ed25519');
  const keyFile = (k: TestKey): string => join(dir, `${k.name}.key`);
  const env = (extra: Record<string, string> = {}) => ({
    DOCKER_CONFIG: noDocker,
    COSIGN_PASSWORD: PASSWORD,
    ...extra,
  });
  const img = (name: string): TestImage => buildImage({ files: { 'name.txt': `${name}\n` } });
  const sigTag = (digest: string): string => `${digest.replace(':', '-')}.sig`;

  before(async () => {
    reg = await startRegistry();
    dir = tempDir('cli-sign');
    noDocker = join(dir, 'no-docker');
    mkdirSync(noDocker);
    // N=32768 (cosign < 2.2's, one of the three sign accepts): every sign here decrypts the key, at half the scrypt
    // work of N=65536, which generate-key-pair and public-key are tested with (test/unit/cli-keys.test.ts).
    for (const k of [alice, bob])
      writeFileSync(keyFile(k), encryptCosignKey(k.privateKey, PASSWORD, { scryptN: 32768 }));
  });
  after(async () => {
    await reg.stop();
    removeTempDir(dir);
  });

  /** The daemon trusting `keys` for example.test (= reg), asked for repo:ref; returns status and body. */
  async function pullThrough(
    repo: string,
    ref: string,
    keys: readonly TestKey[],
    rule: Record<string, unknown> = {},
  ): Promise<{ status: number; body: Buffer }> {
    const sw = await startSigward({
      upstreams: [{ host: 'example.test', url: reg.url }],
      trust: { keys: Object.fromEntries(keys.map((k) => [k.name, { pem: k.publicPem }])) },
      policy: {
        default: 'deny',
        policies: [{ name: 'all', match: ['example.test/**'], keys: keys.map((k) => k.name), ...rule }],
      },
    });
    try {
      const r = await request(`${sw.url}/v2/example.test/${repo}/manifests/${ref}`, {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
      });
      return { status: r.statusCode, body: Buffer.from(await r.body.arrayBuffer()) };
    } finally {
      await sw.stop();
    }
  }

  async function tags(repo: string): Promise<string[]> {
    const r = await request(`${reg.url}/v2/${repo}/tags/list`);
    const body = (await r.body.json()) as { tags?: string[] };
    return r.statusCode === 200 ? [...(body.tags ?? [])].sort() : [];
  }

  test("legacy: the .sig image is cosign's layout byte for byte, and the daemon serves the image", async () => {
    const image = img('one');
    await pushImage(reg, 'apps/one', 'v1', image);
    const r = await runCli(['sign', '--key', keyFile(alice), `${reg.host}/apps/one:v1`], env());
    assert.equal(r.code, 0, r.err.join('\n'));
    const sig = await getManifest(reg, 'apps/one', sigTag(image.digest));
    assert.equal(sig.status, 200);
    assert.deepEqual(r.out, [`${reg.host}/apps/one:${sigTag(image.digest)}@${sig.digest}`]);
    assert.ok(
      r.err.some((l) => l.includes('not uploaded to a transparency log')),
      r.err.join('\n'),
    );
    assert.ok(
      r.err.some((l) => l.includes(`names ${image.digest}`)),
      'a tag is resolved and says so',
    );

    const m = JSON.parse(sig.bytes.toString()) as SigManifest;
    const layer = at(m.layers, 0);
    const payload = await getBlob(reg, 'apps/one', layer.digest);
    // cosign's simple-signing payload: the image's repository as docker-reference, no annotations.
    assert.deepEqual(
      payload,
      Buffer.from(simpleSigningPayload({ dockerReference: `${reg.host}/apps/one`, digest: image.digest })),
    );
    const signature = must(layer.annotations['dev.cosignproject.cosign/signature'], 'signature annotation');
    assert.ok(verify('sha256', payload, alice.publicPem, Buffer.from(signature, 'base64')), 'signed by alice');
    const rebuilt = buildLegacySignatureImage({ layers: [{ payload, signature }] });
    assert.deepEqual(sig.bytes, Buffer.from(rebuilt.manifest), 'manifest bytes as the builder lays them');
    const config = await getBlob(reg, 'apps/one', m.config.digest);
    assert.deepEqual(config, Buffer.from(rebuilt.config.bytes));
    // The same structure, byte for byte, as a real one-layer cosign signature image (connaisseur's), once its
    // digests, sizes and signature are ours.
    const real = (file: string): string => readFileSync(join(FIXTURES, 'connaisseur-key-signatures', file), 'utf8');
    const realConfig = JSON.parse(real('sig-config-a0b0cbfe.reconstructed.json')) as { rootfs: { diff_ids: string[] } };
    realConfig.rootfs.diff_ids = [layer.digest];
    assert.equal(config.toString(), JSON.stringify(realConfig));
    const realManifest = JSON.parse(real('sig-manifest-071bf7a9.json')) as SigManifest;
    realManifest.config = { ...realManifest.config, size: m.config.size, digest: m.config.digest };
    realManifest.layers = [
      { ...at(realManifest.layers, 0), size: layer.size, digest: layer.digest, annotations: layer.annotations },
    ];
    assert.equal(sig.bytes.toString(), JSON.stringify(realManifest));

    const served = await pullThrough('apps/one', 'v1', [alice]);
    assert.equal(served.status, 200, served.body.toString());
    assert.deepEqual(served.body, image.bytes);
    assert.equal((await pullThrough('apps/one', 'v1', [bob])).status, 403, 'a key that did not sign is refused');
  });

  test('a second signer is appended (both verify); the same signature again is not added', async () => {
    const image = img('two');
    await pushImage(reg, 'apps/two', 'v1', image);
    const ref = `${reg.host}/apps/two@${image.digest}`;
    assert.equal((await runCli(['sign', '--key', keyFile(alice), ref], env())).code, 0);
    const first = JSON.parse(
      (await getManifest(reg, 'apps/two', sigTag(image.digest))).bytes.toString(),
    ) as SigManifest;
    const r = await runCli(['sign', '--key', keyFile(bob), '-a', 'env=prod,team=core', '-a', 'ticket=42', ref], env());
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.ok(
      r.err.some((l) => l.includes('2 signatures in it')),
      r.err.join('\n'),
    );
    const sig = await getManifest(reg, 'apps/two', sigTag(image.digest));
    const m = JSON.parse(sig.bytes.toString()) as SigManifest;
    assert.equal(m.layers.length, 2);
    assert.deepEqual(m.layers[0], first.layers[0], 'the earlier layer is kept as it was');
    const payload = await getBlob(reg, 'apps/two', at(m.layers, 1).digest);
    assert.equal(
      payload.toString(),
      Buffer.from(
        simpleSigningPayload({
          dockerReference: `${reg.host}/apps/two`,
          digest: image.digest,
          optional: { env: 'prod', team: 'core', ticket: '42' },
        }),
      ).toString(),
    );
    assert.equal(
      (await pullThrough('apps/two', 'v1', [alice, bob], { threshold: 2 })).status,
      200,
      'both signatures count',
    );
    assert.equal(
      (await pullThrough('apps/two', 'v1', [bob], { annotations: { env: 'prod', ticket: '42' } })).status,
      200,
      'the annotations are signed',
    );

    const again = await runCli(['sign', '--key', keyFile(alice), ref], env());
    assert.equal(again.code, 0, again.err.join('\n'));
    assert.ok(
      again.err.some((l) => l.includes('holds this signature already')),
      again.err.join('\n'),
    );
    const after = await getManifest(reg, 'apps/two', sigTag(image.digest));
    assert.equal(after.digest, sig.digest, 'the .sig image is unchanged');
  });

  test('bundle: a v3 referrer in the referrers tag index (merged on a second signature), served by the daemon', async () => {
    const image = buildMultiArch({ 'bundle.txt': 'bundle\n' });
    await pushImage(reg, 'apps/three', 'v1', image);
    const r = await runCli(['sign', '--format', 'bundle', '--key', keyFile(alice), `${reg.host}/apps/three:v1`], env());
    assert.equal(r.code, 0, r.err.join('\n'));
    const location = at(r.out, 0);
    assert.match(location, new RegExp(`^${reg.host}/apps/three@sha256:[0-9a-f]{64}$`));
    const referrer = location.slice(location.indexOf('@') + 1);
    const index = await getManifest(reg, 'apps/three', image.digest.replace(':', '-'));
    assert.equal(index.status, 200, 'the referrers tag index exists');
    const listed = (JSON.parse(index.bytes.toString()) as { manifests: { digest: string; artifactType: string }[] })
      .manifests;
    assert.deepEqual(
      listed.map((e) => [e.digest, e.artifactType]),
      [[referrer, 'application/vnd.dev.sigstore.bundle.v0.3+json']],
    );
    const rm = JSON.parse((await getManifest(reg, 'apps/three', referrer)).bytes.toString()) as {
      subject: { digest: string; mediaType: string; size: number };
    };
    assert.deepEqual(rm.subject, { mediaType: image.mediaType, size: image.size, digest: image.digest });
    assert.equal((await pullThrough('apps/three', 'v1', [alice])).status, 200);
    assert.equal((await pullThrough('apps/three', 'v1', [bob])).status, 403);

    const second = await runCli(['sign', '--format=bundle', '--key', keyFile(bob), `${reg.host}/apps/three:v1`], env());
    assert.equal(second.code, 0, second.err.join('\n'));
    const merged = JSON.parse(
      (await getManifest(reg, 'apps/three', image.digest.replace(':', '-'))).bytes.toString(),
    ) as { manifests: { digest: string }[] };
    assert.equal(merged.manifests.length, 2);
    assert.ok(
      merged.manifests.some((e) => e.digest === referrer),
      'the first referrer is still listed',
    );
    assert.equal((await pullThrough('apps/three', 'v1', [alice, bob], { threshold: 2 })).status, 200);
  });

  test('COSIGN_REPOSITORY: signatures go to that repository (legacy and bundle)', async () => {
    const legacy = img('four');
    const bundled = img('four-b');
    await pushImage(reg, 'apps/four', 'v1', legacy);
    await pushImage(reg, 'apps/four', 'v2', bundled);
    const cosignRepo = { COSIGN_REPOSITORY: `${reg.host}/sigs/four` };
    const r = await runCli(['sign', '--key', keyFile(alice), `${reg.host}/apps/four:v1`], env(cosignRepo));
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.ok(at(r.out, 0).startsWith(`${reg.host}/sigs/four:${sigTag(legacy.digest)}@`), at(r.out, 0));
    const b = await runCli(
      ['sign', '--format', 'bundle', '--key', keyFile(alice), `${reg.host}/apps/four:v2`],
      env(cosignRepo),
    );
    assert.equal(b.code, 0, b.err.join('\n'));
    assert.ok(at(b.out, 0).startsWith(`${reg.host}/sigs/four@sha256:`), at(b.out, 0));
    assert.deepEqual(await tags('apps/four'), ['v1', 'v2'], 'nothing written next to the image');
    assert.deepEqual(await tags('sigs/four'), [bundled.digest.replace(':', '-'), sigTag(legacy.digest)].sort());
    const there = { signatureRepository: 'example.test/sigs/four' };
    assert.equal((await pullThrough('apps/four', 'v1', [alice], there)).status, 200);
    assert.equal((await pullThrough('apps/four', 'v2', [alice], there)).status, 200);
    assert.equal((await pullThrough('apps/four', 'v1', [alice])).status, 403, 'not next to the image');
  });

  test("cosign's own encrypted key files sign, and verify against their .pub", async () => {
    const keys = join(FIXTURES, 'encrypted-keys');
    const image = img('five');
    await pushImage(reg, 'apps/five', 'v1', image);
    const r = await runCli(
      ['sign', '--key', join(keys, 'policy-controller-example.cosign.key'), `${reg.host}/apps/five:v1`],
      env({ COSIGN_PASSWORD: '' }),
    );
    assert.equal(r.code, 0, r.err.join('\n'));
    const pub = readFileSync(join(keys, 'policy-controller-example.cosign.pub'), 'utf8');
    const example = { name: 'example', privateKey: alice.privateKey, publicPem: pub };
    assert.equal((await pullThrough('apps/five', 'v1', [example])).status, 200);
    const wrong = await runCli(
      ['sign', '--key', join(keys, 'cosign-keys_test-sigstore.key'), `${reg.host}/apps/five:v1`],
      env({ COSIGN_PASSWORD: 'not hello' }),
    );
    assert.equal(wrong.code, 2);
    assert.equal(wrong.err.length, 1, wrong.err.join('\n'));
    assert.match(at(wrong.err, 0), /wrong password/);
  });

  test('credentials: --config with token auth (pull,push asked up front), docker config.json with Basic', async () => {
    const tokenReg = await startRegistry({ auth: 'token' });
    const basicReg = await startRegistry({ auth: 'htpasswd' });
    try {
      const image = img('six');
      await pushImage(tokenReg, 'apps/six', 'v1', image);
      await pushImage(basicReg, 'apps/six', 'v1', image);
      const tokens = must(tokenReg.tokenServer, 'token server');
      const configFile = join(dir, 'token.yaml');
      writeFileSync(
        configFile,
        stringify({
          upstreams: [
            {
              host: tokenReg.host,
              url: tokenReg.url,
              tokenRealms: [new URL(tokens.url).host],
              auth: { username: 'testuser', passwordEnv: 'REG_PASSWORD' },
            },
          ],
        }),
      );
      tokens.reset();
      const t = await runCli(
        ['sign', '--config', configFile, '--key', keyFile(alice), `${tokenReg.host}/apps/six:v1`],
        env({ REG_PASSWORD: 'testpass' }),
      );
      assert.equal(t.code, 0, t.err.join('\n'));
      assert.ok(
        tokens.requests.some((q) => q.user === 'testuser' && q.scopes.includes('repository:apps/six:pull,push')),
        JSON.stringify(tokens.requests),
      );
      assert.equal((await getManifest(tokenReg, 'apps/six', sigTag(image.digest))).status, 200);

      const target = `${basicReg.host}/apps/six:v1`;
      const anonymous = await runCli(['sign', '--key', keyFile(alice), target], env());
      assert.equal(anonymous.code, 1);
      assert.equal(anonymous.err.length, 1, anonymous.err.join('\n'));
      const docker = join(dir, 'docker');
      mkdirSync(docker);
      writeFileSync(
        join(docker, 'config.json'),
        JSON.stringify({ auths: { [basicReg.host]: { auth: Buffer.from('testuser:testpass').toString('base64') } } }),
      );
      const withLogin = await runCli(['sign', '--key', keyFile(alice), target], env({ DOCKER_CONFIG: docker }));
      assert.equal(withLogin.code, 0, withLogin.err.join('\n'));
      assert.equal((await getManifest(basicReg, 'apps/six', sigTag(image.digest))).status, 200);

      const helper = join(dir, 'docker-helper');
      mkdirSync(helper);
      writeFileSync(join(helper, 'config.json'), JSON.stringify({ credsStore: 'desktop' }));
      const helped = await runCli(['sign', '--key', keyFile(alice), target], env({ DOCKER_CONFIG: helper }));
      assert.equal(helped.code, 1);
      assert.ok(
        helped.err.some((l) => l.includes('docker-credential-desktop')),
        helped.err.join('\n'),
      );
    } finally {
      await tokenReg.stop();
      await basicReg.stop();
    }
  });

  test('refusals: one line, exit 2 (the command as given) or 1 (the registry), nothing written', async () => {
    const image = img('seven');
    await pushImage(reg, 'apps/seven', 'v1', image);
    const target = `${reg.host}/apps/seven:v1`;
    const cases: { argv: string[]; env?: Record<string, string>; code: number; says: RegExp }[] = [
      {
        argv: ['sign', '--key', join(dir, 'missing.key'), target],
        code: 2,
        says: /cannot read key file .*no such file/,
      },
      {
        argv: ['sign', '--key', keyFile(alice), target],
        env: { COSIGN_PASSWORD: 'wrong' },
        code: 2,
        says: /wrong password/,
      },
      { argv: ['sign', target], code: 2, says: /--key FILE is required/ },
      { argv: ['sign', '--key', keyFile(alice)], code: 2, says: /IMAGE is required/ },
      { argv: ['sign', '--key', keyFile(alice), '--format', 'x', target], code: 2, says: /--format must be/ },
      {
        argv: ['sign', '--key', keyFile(alice), '-a', 'novalue', target],
        code: 2,
        says: /-a "novalue": expected KEY=VALUE/,
      },
      { argv: ['sign', '--key', keyFile(alice), '--tlog-upload', target], code: 2, says: /no transparency log/ },
      { argv: ['sign', '--key', keyFile(alice), '--tlog-upload=true', target], code: 2, says: /Rekor/ },
      { argv: ['sign', '--key', keyFile(alice), 'Bad Name', target], code: 2, says: /exactly one IMAGE/ },
      { argv: ['sign', '--key', keyFile(alice), `${reg.host}/apps/seven:nope`], code: 1, says: /not found/ },
      { argv: ['sign', '--key', keyFile(alice), `${reg.host}/apps/absent:v1`], code: 1, says: /not found/ },
    ];
    const noPassword = await runCli(['sign', '--key', keyFile(alice), target], { DOCKER_CONFIG: noDocker });
    assert.equal(noPassword.code, 2, 'no COSIGN_PASSWORD and no terminal');
    assert.match(at(noPassword.err, 0), /^sigward sign: no password: COSIGN_PASSWORD is not set/);
    for (const c of cases) {
      const r = await runCli(c.argv, env(c.env));
      assert.equal(r.code, c.code, `${c.argv.join(' ')}: ${r.err.join('\n')}`);
      assert.equal(r.err.length, 1, `one line for ${c.argv.join(' ')}: ${r.err.join('\n')}`);
      assert.match(at(r.err, 0), c.says);
      assert.deepEqual(r.out, []);
    }
    assert.deepEqual(await tags('apps/seven'), ['v1'], 'no signature was written');
    const ok = await runCli(['sign', '--tlog-upload=false', '--key', keyFile(alice), target], env());
    assert.equal(ok.code, 0, ok.err.join('\n'));

    // A registry that takes no pushes (distribution as a pull-through cache of reg): the image is read through it,
    // the push is refused.
    const mirror = await startRegistry({ proxy: { remoteUrl: reg.url } });
    try {
      const other = img('eight');
      await pushImage(reg, 'apps/eight', 'v1', other);
      const r = await runCli(['sign', '--key', keyFile(alice), `${mirror.host}/apps/eight:v1`], env());
      assert.equal(r.code, 1, r.err.join('\n'));
      assert.equal(r.err.filter((l) => !l.includes('names sha256:')).length, 1, r.err.join('\n'));
      assert.match(at(r.err, -1), /refused|unsupported|denied/i);
      assert.deepEqual(await tags('apps/eight'), ['v1'], 'nothing reached the registry behind it');
    } finally {
      await mirror.stop();
    }
  });
});
