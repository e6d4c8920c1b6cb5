// The README walkthrough "Your own registry and key", followed step by step with the real commands against a real
// registry on a random port (a name with a port, 127.0.0.1:PORT): generate-key-pair, sign, a config whose host is
// port-less with the port in url and aliases (check-config gives no warning; the same registry named with its port
// gets the warning and that recipe), serve, then pull with skopeo and with ctr through sigward using the files
// client-config prints. The path-prefix form with the port in it is shown to fail, as the warning says.
// generate-key-pair and sign run as the `sigward` process in the walkthrough's directory (relative file names);
// check-config and client-config run the same command in process (src/main.ts): absolute paths only.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sigwardCli, sigwardInProcess } from '../helpers/cli-process.ts';
import { startContainerd, type Containerd } from '../helpers/containerd.ts';
import { buildImage, pushImage } from '../helpers/images.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { startSigwardProcess, type RunningSigward } from '../helpers/sigward.ts';
import { createSkopeo, type Skopeo } from '../helpers/skopeo.ts';

const PASSWORD = { COSIGN_PASSWORD: 'walkthrough-password' };

describe('README walkthrough: your own registry (named with a port) and key', () => {
  let reg: Registry;
  let sw: RunningSigward;
  let ctd: Containerd;
  let skopeo: Skopeo;
  let work: string;
  let configFile: string;
  const signed = buildImage({ files: { 'app.txt': 'release 1.0\n' } });
  const unsigned = buildImage({ files: { 'app.txt': 'nobody signed this\n' } });

  before(async () => {
    work = tempDir('own-registry');
    reg = await startRegistry();
    await pushImage(reg, 'team/app', '1.0', signed);
    await pushImage(reg, 'team/app', 'unsigned', unsigned);
    ctd = await startContainerd();
  });
  after(async () => {
    skopeo?.remove();
    await ctd?.stop();
    await sw?.stop();
    await reg?.stop();
    if (work) removeTempDir(work);
  });

  /** The walkthrough's config, as the README writes it, with this test's registry address and key path. */
  function walkthroughConfig(): string {
    return [
      'listen: 127.0.0.1:5050',
      'upstreams:',
      '  - host: registry.local               # the name sigward knows it by: no port',
      `    url: ${reg.url}          # where it is`,
      `    aliases: [${reg.host}]         # the name image references use, with its port`,
      'trust:',
      '  keys:',
      `    release: { file: ${join(work, 'release.pub')} }`,
      'policy:',
      '  default: deny',
      '  policies:',
      '    - name: my-apps',
      '      match: ["registry.local/**"]',
      '      keys: [release]',
      '',
    ].join('\n');
  }

  test('1-3: a key pair, a signature, a config that check-config accepts without a warning', async () => {
    const gen = await sigwardCli(['generate-key-pair', '--output-key-prefix', 'release'], { env: PASSWORD, cwd: work });
    assert.equal(gen.code, 0, gen.stderr);
    const sign = await sigwardCli(['sign', '--key', 'release.key', `${reg.host}/team/app:1.0`], {
      env: PASSWORD,
      cwd: work,
    });
    assert.equal(sign.code, 0, sign.stderr);
    assert.equal(sign.stdout.split('@')[0], `${reg.host}/team/app:sha256-${signed.digest.slice(7)}.sig`);
    configFile = join(work, 'sigward.yaml');
    writeFileSync(configFile, walkthroughConfig());
    const check = await sigwardInProcess(['check-config', configFile]);
    assert.equal(check.code, 0, check.stderr);
    assert.doesNotMatch(check.stdout, /warning/);
    // The same registry named by its address alone: valid, with the warning and the recipe above as YAML.
    const portOnly = join(work, 'port-only.yaml');
    writeFileSync(portOnly, `upstreams:\n  - host: ${reg.host}\n    url: ${reg.url}\npolicy: { default: deny }\n`);
    const warned = await sigwardInProcess(['check-config', portOnly]);
    assert.equal(warned.code, 0, warned.stderr);
    assert.ok(
      warned.stdout.includes(
        [
          `warning: upstreams[0].host ${reg.host} has a port and no port-less name: podman, skopeo and docker cannot pull it through sigward (they refuse 127.0.0.1:5050/${reg.host}/REPO: a ':' is not allowed in a repository path); containerd can. Name it without the port and keep the port in url and aliases:`,
          '  - host: 127-0-0-1.registry   # any name without a port; it is never resolved',
          `    url: ${reg.url}`,
          `    aliases: [${reg.host}]`,
        ].join('\n'),
      ),
      warned.stdout,
    );
  });

  test('4-5: serve, then pull the signed image with skopeo and ctr; the unsigned one is refused by both', async () => {
    sw = await startSigwardProcess(walkthroughConfig());
    const print = async (runtime: string): Promise<string> => {
      const r = await sigwardInProcess([
        'client-config',
        runtime,
        '--upstream',
        reg.host,
        '--config',
        configFile,
        '--sigward',
        sw.url,
      ]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    // skopeo: the printed registries.conf maps prefix 127.0.0.1:PORT to sigward/registry.local.
    const conf = await print('podman');
    assert.match(conf, new RegExp(`prefix = "${reg.host}"\\nlocation = "${sw.host}/registry\\.local"`));
    skopeo = createSkopeo({ sigward: sw.host, prefix: 'unused.test' });
    writeFileSync(skopeo.registriesConf, `unqualified-search-registries = []\n${conf}`);
    const pulled = await skopeo.copyAll(`${reg.host}/team/app:1.0`, join(work, 'oci'), 'app');
    assert.equal(pulled.code, 0, pulled.stderr);
    const refused = await skopeo.inspectRaw(`${reg.host}/team/app:unsigned`);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, new RegExp(`in ${sw.host}/registry\\.local/team/app: denied: `));
    // ctr: the printed hosts.toml, in the hosts directory under the registry's name with its port.
    const hosts = await print('containerd');
    mkdirSync(join(ctd.hostsDir, reg.host), { recursive: true });
    writeFileSync(join(ctd.hostsDir, reg.host, 'hosts.toml'), hosts);
    const ctrPulled = await ctd.ctrPull(`${reg.host}/team/app:1.0`);
    assert.equal(ctrPulled.code, 0, ctrPulled.stderr);
    const listed = await ctd.ctr(['images', 'ls', '-q']);
    assert.match(listed.stdout, new RegExp(`^${reg.host}/team/app:1\\.0$`, 'm'));
    const ctrRefused = await ctd.ctrPull(`${reg.host}/team/app:unsigned`);
    assert.notEqual(ctrRefused.code, 0);
    assert.match(ctrRefused.stderr, /403 Forbidden \(/);
  });

  test('the path-prefix form with the port in it is not a reference skopeo accepts', async () => {
    const withPort = createSkopeo({ sigward: sw.host, prefix: reg.host });
    try {
      const r = await withPort.inspectRaw(`${reg.host}/team/app:1.0`);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /rewriting reference: invalid reference format/);
    } finally {
      withPort.remove();
    }
  });
});
