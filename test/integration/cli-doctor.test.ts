// `sigward doctor` against real runtime configurations in temp dirs and real clients: an unsigned image is pushed to
// the real test registry, sigward (policy: deny) runs in front of it, and the canary pull through ctr (a private
// containerd), skopeo and podman passes with the configuration client-config prints and fails with the ones that
// route around sigward (sigward as a containerd [host] with the registry as the server, sigward as a registries.conf
// mirror of the registry), as does a fallback that fails for another reason.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { sigwardCli, sigwardInProcess } from '../helpers/cli-process.ts';
import { startContainerd, type Containerd } from '../helpers/containerd.ts';
import { buildImage, pushImage } from '../helpers/images.ts';
import { podmanWorks } from '../helpers/podman.ts';
import { freePort, removeTempDir, tempDir } from '../helpers/proc.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { runCli } from '../helpers/run-cli.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';

const CANARY = 'canary.test/canary/unsigned:v1';

interface Report {
  findings: { runtime: string; registry: string | null; status: string; message: string; fix?: string }[];
  canary?: { passed: boolean; results: { client: string; outcome: string; detail: string }[] };
  bypasses: number;
}

describe('sigward doctor with real clients', () => {
  let reg: Registry;
  let sw: RunningSigward;
  let ctd: Containerd;
  let work: string;
  let configFile: string;
  let env: Record<string, string | undefined>;
  let clients: string[];

  before(async () => {
    work = tempDir('doctor');
    reg = await startRegistry();
    await pushImage(reg, 'canary/unsigned', 'v1', buildImage({ files: { 'canary.txt': 'nobody signed this\n' } }));
    sw = await startSigward({ upstreams: [{ host: 'canary.test', url: reg.url }], policy: { default: 'deny' } });
    ctd = await startContainerd();
    configFile = join(work, 'sigward.yaml');
    writeFileSync(
      configFile,
      stringify({ upstreams: [{ host: 'canary.test', url: reg.url }], policy: { default: 'deny' } }),
    );
    mkdirSync(join(work, 'home'));
    mkdirSync(join(work, 'empty.d'));
    // podman's storage and engine settings in the temp dir (vfs, no systemd), through its own environment variables.
    writeFileSync(
      join(work, 'storage.conf'),
      `[storage]\ndriver = "vfs"\nrunroot = "${work}/podman-run"\ngraphroot = "${work}/podman-root"\n`,
    );
    writeFileSync(join(work, 'containers.conf'), '[engine]\nevents_logger = "file"\ncgroup_manager = "cgroupfs"\n');
    env = {
      PATH: process.env.PATH,
      HOME: join(work, 'home'),
      TMPDIR: work,
      CONTAINERS_STORAGE_CONF: join(work, 'storage.conf'),
      CONTAINERS_CONF: join(work, 'containers.conf'),
    };
    clients = (await podmanWorks()) ? ['ctr', 'skopeo', 'podman'] : ['ctr', 'skopeo'];
  });
  after(async () => {
    await ctd?.stop();
    await sw?.stop();
    await reg?.stop();
    if (work) removeTempDir(work);
  });

  /** A node layout: containerd hosts dir and registries.conf with the given contents. */
  function node(name: string, hostsToml: string, registriesConf: string): string[] {
    const root = join(work, name);
    mkdirSync(join(root, 'certs.d', 'canary.test'), { recursive: true });
    writeFileSync(join(root, 'certs.d', 'canary.test', 'hosts.toml'), hostsToml);
    writeFileSync(join(root, 'registries.conf'), registriesConf);
    return [
      '--config',
      configFile,
      '--sigward',
      sw.url,
      '--containerd-config',
      join(ctd.dir, 'config.toml'),
      '--containerd-address',
      ctd.address,
      '--certs-dir',
      join(root, 'certs.d'),
      '--registries-conf',
      join(root, 'registries.conf'),
      '--registries-conf-d',
      join(work, 'empty.d'),
      '--docker-daemon-json',
      join(root, 'no-daemon.json'),
    ];
  }

  /** What `sigward client-config RUNTIME` prints for canary.test (it must succeed). */
  async function clientConfig(runtime: string): Promise<string> {
    const r = await runCli([
      'client-config',
      runtime,
      '--upstream',
      'canary.test',
      '--config',
      configFile,
      '--sigward',
      sw.url,
    ]);
    assert.equal(r.code, 0, r.err.join('\n'));
    return r.out.join('\n');
  }

  async function doctor(args: string[]): Promise<{ code: number; report: Report; err: string }> {
    const r = await runCli(['doctor', ...args, '--json'], env);
    return { code: r.code, report: JSON.parse(r.out.join('\n')) as Report, err: r.err.join('\n') };
  }

  test('the configuration client-config prints: no bypass, and every client is refused the canary', async () => {
    const hosts = await clientConfig('containerd');
    const conf = await clientConfig('podman');
    const args = node('good', `${hosts}\n`, `unqualified-search-registries = []\n${conf}\n`);
    const r = await doctor([...args, '--pull-canary', CANARY, '--canary-clients', clients.join(',')]);
    assert.equal(r.code, 0, JSON.stringify(r.report, null, 2));
    assert.equal(r.report.bypasses, 0);
    assert.deepEqual(
      r.report.findings.filter((f) => f.registry === 'canary.test').map((f) => [f.runtime, f.status]),
      [
        ['containerd', 'ok'],
        ['containers', 'ok'],
      ],
    );
    assert.equal(r.report.canary?.passed, true);
    assert.deepEqual(
      r.report.canary?.results.map((c) => [c.client, c.outcome]),
      clients.map((c) => [c, 'refused']),
    );
    // What each client printed is sigward's refusal.
    const ctr = r.report.canary?.results.find((c) => c.client === 'ctr');
    assert.match(ctr?.detail ?? '', /403 Forbidden \(/);
    const skopeo = r.report.canary?.results.find((c) => c.client === 'skopeo');
    assert.match(
      skopeo?.detail ?? '',
      new RegExp(`in ${sw.host.replace(/\./g, '\\.')}/canary\\.test/canary/unsigned: denied: `),
    );
  });

  test('sigward as a fallback-able host or mirror: bypasses with the fix, and the canary is pulled around it', async () => {
    const args = node(
      'bad',
      `server = "${reg.url}"\n[host."${sw.url}"]\n  capabilities = ["pull", "resolve"]\n`,
      `[[registry]]\nprefix = "canary.test"\nlocation = "${reg.host}"\ninsecure = true\n[[registry.mirror]]\nlocation = "${sw.host}/canary.test"\ninsecure = true\n`,
    );
    const r = await doctor([...args, '--pull-canary', CANARY, '--canary-clients', clients.join(',')]);
    assert.equal(r.code, 1);
    const byRuntime = Object.fromEntries(
      r.report.findings.filter((f) => f.registry === 'canary.test').map((f) => [f.runtime, f]),
    );
    assert.equal(byRuntime.containerd?.status, 'bypass');
    assert.match(
      byRuntime.containerd?.message ?? '',
      /server is ".*", not sigward .*falls back to it when sigward refuses/,
    );
    assert.equal(byRuntime.containers?.status, 'bypass');
    assert.match(byRuntime.containers?.message ?? '', /sigward is a \[\[registry\.mirror\]\]/);
    // The fix is exactly what client-config prints for that runtime.
    const hosts = await clientConfig('containerd');
    const conf = await clientConfig('podman');
    assert.ok(byRuntime.containerd?.fix?.endsWith(`:\n${hosts}`), byRuntime.containerd?.fix);
    assert.ok(byRuntime.containers?.fix?.endsWith(`:\n${conf}`), byRuntime.containers?.fix);
    // Findings about every registry carry registry: null (JSON has no undefined).
    assert.ok(r.report.findings.some((f) => f.registry === null && f.status === 'warning'));
    assert.equal(r.report.canary?.passed, false);
    assert.deepEqual(
      r.report.canary?.results.map((c) => [c.client, c.outcome]),
      clients.map((c) => [c, 'pulled']),
    );
  });

  test('a refusal followed by a fallback that fails for another reason is not a pass', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const args = node(
      'fallback-fails',
      `server = "http://${closed}"\n[host."${sw.url}"]\n  capabilities = ["pull", "resolve"]\n`,
      `[[registry]]\nprefix = "canary.test"\nlocation = "${closed}"\ninsecure = true\n[[registry.mirror]]\nlocation = "${sw.host}/canary.test"\ninsecure = true\n`,
    );
    const r = await doctor([...args, '--pull-canary', CANARY, '--canary-clients', 'ctr,skopeo']);
    assert.equal(r.code, 1);
    assert.deepEqual(
      r.report.canary?.results.map((c) => [c.client, c.outcome]),
      [
        ['ctr', 'failed'],
        ['skopeo', 'failed'],
      ],
    );
    assert.match(r.report.canary?.results[0]?.detail ?? '', /^containerd tried another host besides sigward/);
    assert.match(
      r.report.canary?.results[1]?.detail ?? '',
      /^sigward was a mirror and the registry was tried after it/,
    );
  });

  test('text report, exit 1 on a bypass, exit 2 on bad input (the first bypass and a bad option as the real process)', async () => {
    const args = node('text', 'server = "https://canary.test"\n', '');
    const r = await sigwardCli(['doctor', ...args], { env: { HOME: join(work, 'home') } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stdout,
      /BYPASS {2}canary\.test .*hosts\.toml\n +no \[host\] table: containerd 1\.6 ignores the file/,
    );
    assert.match(
      r.stdout,
      /BYPASS {2}canary\.test .*registries\.conf\n +no \[\[registry\]\] for prefix "canary\.test"/,
    );
    assert.match(r.stdout, /\n3 bypass\(es\), \d+ warning\(s\): a pull can get around sigward on this node\n$/);
    const bad = await sigwardInProcess(['doctor', ...args, '--pull-canary', 'elsewhere.test/x:1']);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /--pull-canary "elsewhere\.test\/x:1": elsewhere\.test is not one of sigward's upstreams; expected HOST\/REPOSITORY\[:TAG\|@DIGEST\] with HOST one of sigward's upstreams \(canary\.test\)/,
    );
    // No runtime configuration at any path: nothing was checked, which is not a pass.
    const empty = join(work, 'empty-root');
    mkdirSync(empty);
    const none = await sigwardInProcess(['doctor', '--config', configFile, '--root', empty], {
      env: { HOME: join(work, 'home') },
    });
    assert.equal(none.code, 1, none.stdout);
    assert.match(
      none.stdout,
      /\nnothing checked: no containerd, registries\.conf or docker configuration at these paths/,
    );
    assert.equal((await sigwardCli(['doctor', '--config', configFile, '--bogus'])).code, 2);
    assert.equal((await sigwardInProcess(['doctor', '--config', join(work, 'missing.yaml')])).code, 2);
  });
});
