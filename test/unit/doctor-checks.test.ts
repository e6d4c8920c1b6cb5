// sigward doctor's reading of runtime configuration, case by case, as an attacker would look for a way around
// sigward: each configuration is written to a temp dir and the finding for each registry is checked (status and the
// reason), together with the cases that are fine.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/parse.ts';
import type { UpstreamConfig } from '../../src/config/types.ts';
import { checkContainerd } from '../../src/doctor/containerd.ts';
import { checkContainers } from '../../src/doctor/containers.ts';
import { checkDocker } from '../../src/doctor/docker.ts';
import { reachableNames, type Finding, type Fixes, type SigwardAddress } from '../../src/doctor/types.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';

const UPSTREAMS: readonly UpstreamConfig[] = (() => {
  const parsed = parseConfigText(`upstreams:
  - host: docker.io
    default: true
  - host: ghcr.io
  - host: registry.internal
    url: https://registry.internal:5000
    aliases: [registry.internal:5000, never-resolved.sigward]
  - host: quay.internal
`);
  assert.ok(parsed.config, JSON.stringify(parsed.problems));
  return parsed.config.upstreams;
})();

const HTTP: SigwardAddress = {
  url: 'http://127.0.0.1:5050',
  https: false,
  addresses: new Set(['127.0.0.1:5050', 'localhost:5050']),
};
const HTTPS: SigwardAddress = {
  url: 'https://sigward.internal',
  https: true,
  addresses: new Set(['sigward.internal:443']),
};

const FIXES: Fixes = {
  containerd: (name, file) => `containerd-fix ${name} ${file}`,
  containers: (name, file) => `containers-fix ${name} ${file}`,
  docker: (name) => `docker-fix ${name}`,
};

/** registry -> the statuses of its findings, each with the start of its message. */
function summary(findings: readonly Finding[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of findings) (out[f.registry ?? '*'] ??= []).push(`${f.status}: ${f.message}`);
  return out;
}

function statusOf(findings: readonly Finding[], registry: string | undefined): string[] {
  return findings.filter((f) => f.registry === registry).map((f) => f.status);
}

let dir: string;
let n = 0;
before(() => {
  dir = tempDir('doctor-checks');
});
after(() => removeTempDir(dir));

/** A fresh directory with the given files (relative path -> content). */
function tree(files: Record<string, string>): string {
  const root = join(dir, String(n++));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  mkdirSync(root, { recursive: true });
  return root;
}

/** Every name a reference reaches the configured registries by, each ok. */
const ALL_OK = [
  ['docker.io', 'ok'],
  ['ghcr.io', 'ok'],
  ['registry.internal:5000', 'ok'],
  ['quay.internal', 'ok'],
];

const GOOD_HOSTS = 'server = "http://127.0.0.1:5050"\n[host]\n';

function containerd(files: Record<string, string>, sw: SigwardAddress = HTTP, withConfig = false) {
  const root = tree(files);
  return checkContainerd(
    {
      configFile: join(root, withConfig ? 'config.toml' : 'absent.toml'),
      certsDir: withConfig ? undefined : join(root, 'certs.d'),
      defaultCertsDir: join(root, 'certs.d'),
    },
    UPSTREAMS,
    sw,
    FIXES,
  );
}

describe('containerd hosts.toml', () => {
  test('sigward as the server with a bare [host] is ok, for every name that reaches the registry', () => {
    const r = containerd({
      'certs.d/docker.io/hosts.toml': GOOD_HOSTS,
      'certs.d/ghcr.io/hosts.toml': GOOD_HOSTS,
      'certs.d/quay.internal/hosts.toml': GOOD_HOSTS,
      // The registry's real address is an alias: references naming it must go through sigward too.
      'certs.d/registry.internal:5000/hosts.toml': 'server = "http://localhost:5050"\n[host]\n',
      'certs.d/_default/hosts.toml': GOOD_HOSTS,
    });
    assert.deepEqual(
      r.findings.map((f) => [f.registry, f.status]),
      ALL_OK,
    );
  });

  test('a missing file is a bypass with the fix, unless _default sends the registry to sigward', () => {
    const r = containerd({ 'certs.d/docker.io/hosts.toml': GOOD_HOSTS });
    const ghcr = r.findings.find((f) => f.registry === 'ghcr.io');
    assert.equal(ghcr?.status, 'bypass');
    assert.match(ghcr?.message ?? '', /no hosts\.toml for ghcr\.io/);
    assert.equal(ghcr?.fix, `containerd-fix ghcr.io ${join(r.certsDir, 'ghcr.io', 'hosts.toml')}`);
    // The port-less host and the other alias of a registry reached on a port are names sigward knows it by, never
    // resolved: references reach it by its address, registry.internal:5000, which is checked.
    assert.deepEqual(statusOf(r.findings, 'never-resolved.sigward'), []);
    assert.deepEqual(statusOf(r.findings, 'registry.internal'), []);
    assert.deepEqual(statusOf(r.findings, 'registry.internal:5000'), ['bypass']);
    assert.deepEqual(statusOf(r.findings, undefined), ['warning']); // no _default
    const viaDefault = containerd({ 'certs.d/_default/hosts.toml': GOOD_HOSTS });
    assert.deepEqual(statusOf(viaDefault.findings, 'ghcr.io'), ['ok']);
    assert.match(viaDefault.findings[1]?.message ?? '', /through .*_default/);
  });

  test('every way around: no [host], fallback server, another host first, skip_verify, unreadable', () => {
    const r = containerd(
      {
        'certs.d/docker.io/hosts.toml': 'server = "https://sigward.internal"\n',
        'certs.d/ghcr.io/hosts.toml':
          'server = "https://ghcr.io"\n[host."https://sigward.internal"]\n  capabilities = ["pull", "resolve"]\n',
        'certs.d/quay.internal/hosts.toml':
          'server = "https://sigward.internal"\n[host."https://mirror.internal"]\n[host."https://sigward.internal:443"]\n',
        'certs.d/registry.internal:5000/hosts.toml':
          'server = "https://sigward.internal"\nskip_verify = true\n[host]\n',
        'certs.d/_default/hosts.toml': 'server = "https://sigward.internal"\n[host\n',
      },
      HTTPS,
    );
    const s = summary(r.findings);
    assert.deepEqual(s['docker.io'], [
      'bypass: no [host] table: containerd 1.6 ignores the file ("invalid host tree") and pulls from https://registry-1.docker.io directly',
    ]);
    assert.deepEqual(s['ghcr.io'], [
      'bypass: server is "https://ghcr.io", not sigward (https://sigward.internal): containerd falls back to it when sigward refuses',
    ]);
    assert.deepEqual(s['quay.internal'], [
      'bypass: [host."https://mirror.internal"] is not sigward: containerd pulls from it first, unchecked',
    ]);
    assert.deepEqual(s['registry.internal:5000'], [
      'bypass: skip_verify = true for the server: anyone between this node and sigward can answer as sigward',
    ]);
    // An unreadable _default is not "no _default": doctor does not know what it says, so no warning about a missing one.
    assert.equal(
      r.findings.every((f) => f.status !== 'ok'),
      true,
    );
    // Over plain http, skip_verify changes nothing: a warning only.
    const plain = containerd({
      'certs.d/ghcr.io/hosts.toml': 'server = "http://127.0.0.1:5050"\nskip_verify = true\n[host]\n',
    });
    assert.deepEqual(statusOf(plain.findings, 'ghcr.io'), ['warning']);
    const missingServer = containerd({ 'certs.d/ghcr.io/hosts.toml': '[host."http://127.0.0.1:5050"]\n' });
    assert.deepEqual(summary(missingServer.findings)['ghcr.io'], [
      'bypass: no server: the server is https://ghcr.io, where containerd goes when sigward refuses or fails',
    ]);
    const broken = containerd({ 'certs.d/ghcr.io/hosts.toml': 'server = http://127.0.0.1:5050\n[host]\n' });
    assert.deepEqual(statusOf(broken.findings, 'ghcr.io'), ['bypass']);
    assert.match(broken.findings.find((f) => f.registry === 'ghcr.io')?.message ?? '', /cannot be read .*line 1/);
  });

  test('config.toml: the CRI plugin must read the hosts directory (config_path); it is where doctor looks', () => {
    const unset = containerd(
      { 'config.toml': 'version = 2\n[plugins."io.containerd.grpc.v1.cri".cni]\n  bin_dir = "/usr/lib/cni"\n' },
      HTTP,
      true,
    );
    assert.match(summary(unset.findings)['*']?.[0] ?? '', /^bypass: the CRI plugin's registry config_path is not set/);
    const legacy = containerd(
      {
        'config.toml':
          'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\n  endpoint = ["http://127.0.0.1:5050"]\n',
      },
      HTTP,
      true,
    );
    assert.match(
      summary(legacy.findings)['*']?.[0] ?? '',
      /deprecated registry\.mirrors: after its endpoints it falls back/,
    );
    const set = containerd(
      {
        'config.toml':
          'version = 2\n[grpc]\naddress = "/run/x.sock"\n[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "CERTS"\n',
      },
      HTTP,
      true,
    );
    assert.equal(set.address, '/run/x.sock');
    assert.equal(set.certsDir, 'CERTS');
    // Under --root, the config_path named in the file is read under that root too.
    const root = tree({
      'config.toml': '[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "/etc/certs"\n',
    });
    const rooted = checkContainerd(
      {
        configFile: join(root, 'config.toml'),
        certsDir: undefined,
        defaultCertsDir: join(root, 'etc/containerd/certs.d'),
        underRoot: (p) => join(root, p),
      },
      UPSTREAMS,
      HTTP,
      FIXES,
    );
    assert.equal(rooted.certsDir, join(root, 'etc/certs'));
    const criOff = containerd(
      { 'config.toml': 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n' },
      HTTP,
      true,
    );
    assert.equal(
      criOff.findings.some((f) => /config_path/.test(f.message)),
      false,
    );
    // Docker's containerd.io package names it by its short id; a version-1 config keeps config_path under
    // [plugins.cri.registry].
    const shortOff = containerd({ 'config.toml': 'disabled_plugins = ["cri"]\n' }, HTTP, true);
    assert.equal(
      shortOff.findings.some((f) => /config_path/.test(f.message)),
      false,
    );
    const v1 = containerd(
      { 'config.toml': 'version = 1\n[plugins.cri.registry]\nconfig_path = "/etc/containerd/certs.d"\n' },
      HTTP,
      true,
    );
    assert.equal(
      v1.findings.some((f) => /config_path is not set/.test(f.message)),
      false,
    );
    // A config_path that does not exist is reported, not read as an empty hosts directory.
    const missing = containerd(
      { 'config.toml': '[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "/nonexistent/certs.d"\n' },
      HTTP,
      true,
    );
    assert.deepEqual(
      missing.findings.filter((f) => f.registry === undefined && f.status === 'bypass').map((f) => f.file),
      ['/nonexistent/certs.d'],
    );
    assert.match(
      missing.findings.find((f) => f.file === '/nonexistent/certs.d')?.message ?? '',
      /^the hosts directory \/nonexistent\/certs\.d \(config_path in \/.*\/config\.toml\) does not exist: containerd finds no hosts\.toml/,
    );
  });

  test('no containerd here: nothing to report', () => {
    const root = tree({});
    const r = checkContainerd(
      { configFile: join(root, 'none.toml'), certsDir: undefined, defaultCertsDir: join(root, 'certs.d') },
      UPSTREAMS,
      HTTP,
      FIXES,
    );
    assert.deepEqual([r.found, r.findings], [false, []]);
  });
});

function containers(files: Record<string, string>, dropIns: string[] = []) {
  const root = tree(files);
  return checkContainers(
    { mainFile: join(root, 'registries.conf'), dropInDirs: dropIns.map((d) => join(root, d)) },
    UPSTREAMS,
    HTTP,
    FIXES,
  );
}

const GOOD_CONF = `unqualified-search-registries = ["docker.io"]
[[registry]]
prefix = "registry-1.docker.io"
blocked = true
[[registry]]
prefix = "docker.io"
location = "127.0.0.1:5050/docker.io"
insecure = true
[[registry]]
prefix = "ghcr.io"
location = "127.0.0.1:5050/ghcr.io"
insecure = true
[[registry]]
prefix = "quay.internal"
location = "127.0.0.1:5050/quay.internal"
insecure = true
[[registry]]
prefix = "registry.internal:5000"
location = "127.0.0.1:5050/registry.internal"
insecure = true
`;

describe('containers registries.conf', () => {
  test('sigward as the location of every registry, the search list routed: ok', () => {
    const r = containers({ 'registries.conf': GOOD_CONF });
    assert.deepEqual(
      r.findings.map((f) => [f.registry, f.status]),
      ALL_OK,
    );
  });

  test('sigward as a mirror, the origin as the location, another mirror, a prefix alone: bypasses', () => {
    const r = containers({
      'registries.conf': `[[registry]]
prefix = "docker.io"
location = "registry-1.docker.io"
[[registry.mirror]]
location = "127.0.0.1:5050/docker.io"
[[registry]]
prefix = "ghcr.io"
location = "127.0.0.1:5050/ghcr.io"
[[registry.mirror]]
location = "cache.internal/ghcr"
[[registry]]
prefix = "quay.internal"
[[registry]]
prefix = "registry.internal:5000"
location = "registry.internal:5000"
`,
    });
    const s = summary(r.findings);
    assert.deepEqual(s['docker.io'], [
      'bypass: sigward is a [[registry.mirror]] of [[registry]] prefix "docker.io", whose location is registry-1.docker.io: when sigward refuses, podman and skopeo pull from registry-1.docker.io',
    ]);
    assert.deepEqual(s['ghcr.io'], [
      'bypass: [[registry]] prefix "ghcr.io" has a [[registry.mirror]] at cache.internal/ghcr, tried before the location and not sigward: pulls from it are unchecked',
    ]);
    assert.deepEqual(s['quay.internal'], [
      'bypass: [[registry]] prefix "quay.internal" has location quay.internal, not sigward: pulls go there unchecked',
    ]);
    assert.deepEqual(statusOf(r.findings, 'registry.internal:5000'), ['bypass']);
    // Docker Hub's other name is neither routed nor blocked here.
    assert.match(
      summary(r.findings)['registry-1.docker.io']?.[0] ?? '',
      /^warning: registry-1\.docker\.io \(Docker Hub by another name\) is neither routed through sigward nor blocked/,
    );
    assert.equal(r.findings.find((f) => f.registry === 'ghcr.io')?.fix, `containers-fix ghcr.io ${r.mainFile}`);
  });

  test('a more specific prefix or a wildcard that leads elsewhere, a missing entry, blocked', () => {
    const r = containers({
      'registries.conf': `${GOOD_CONF.replace('[[registry]]\nprefix = "docker.io"\nlocation = "127.0.0.1:5050/docker.io"\ninsecure = true\n', '[[registry]]\nprefix = "docker.io"\nblocked = true\n')}
[[registry]]
prefix = "ghcr.io/acme"
location = "ghcr.io/acme"
`,
    });
    assert.deepEqual(statusOf(r.findings, 'docker.io'), ['ok']);
    assert.match(summary(r.findings)['docker.io']?.[0] ?? '', /blocked/);
    assert.deepEqual(statusOf(r.findings, 'ghcr.io'), ['ok', 'bypass']);
    const wildcard = containers({ 'registries.conf': '[[registry]]\nprefix = "*.internal"\ninsecure = true\n' });
    assert.match(
      summary(wildcard.findings)['quay.internal']?.[0] ?? '',
      /^bypass: .*"\*\.internal" has location quay\.internal, not sigward/,
    );
    assert.match(
      summary(wildcard.findings)['ghcr.io']?.[0] ?? '',
      /^bypass: no \[\[registry\]\] for prefix "ghcr\.io"/,
    );
  });

  test('a prefix also matches the same host with a port, as containers/image matches it', () => {
    const r = containers({
      'registries.conf': '[[registry]]\nprefix = "registry.internal"\nlocation = "127.0.0.1:5050/registry.internal"\n',
    });
    assert.deepEqual(statusOf(r.findings, 'registry.internal:5000'), ['ok']);
    const wildcard = containers({ 'registries.conf': '[[registry]]\nprefix = "*.internal"\n' });
    assert.match(
      summary(wildcard.findings)['registry.internal:5000']?.[0] ?? '',
      /^bypass: .*"\*\.internal" has location registry\.internal:5000, not sigward/,
    );
  });

  test('the search list reaching a registry that is not routed is a bypass: short names fall through to it', () => {
    const r = containers({
      'registries.conf': GOOD_CONF.replace('["docker.io"]', '["docker.io", "quay.io"]'),
    });
    const q = r.findings.find((f) => f.registry === 'quay.io');
    assert.equal(q?.status, 'bypass');
    assert.match(
      q?.message ?? '',
      /unqualified-search-registries lists quay\.io, which is not routed through sigward \(nor configured in it\)/,
    );
    assert.match(q?.fix ?? '', /unqualified-search-registries = \["docker\.io"\]/);
  });

  test('drop-ins are read in name order and replace entries with the same prefix; V1 and broken files are reported', () => {
    const bad = GOOD_CONF.replace('location = "127.0.0.1:5050/ghcr.io"', 'location = "ghcr.io"');
    const fixed = '[[registry]]\nprefix = "ghcr.io"\nlocation = "127.0.0.1:5050/ghcr.io"\ninsecure = true\n';
    const r = containers({ 'registries.conf': bad, 'd/50-fix.conf': fixed, 'd/README': 'not read' }, ['d']);
    assert.deepEqual(statusOf(r.findings, 'ghcr.io'), ['ok']);
    const undone = containers(
      {
        'registries.conf': GOOD_CONF,
        'd/10-a.conf': fixed,
        'd/20-b.conf': bad.slice(
          bad.indexOf('[[registry]]\nprefix = "ghcr.io"'),
          bad.indexOf('[[registry]]\nprefix = "quay.internal"'),
        ),
      },
      ['d'],
    );
    assert.deepEqual(statusOf(undone.findings, 'ghcr.io'), ['bypass']);
    const v1 = containers({ 'registries.conf': '[registries.search]\nregistries = ["docker.io"]\n' });
    assert.match(summary(v1.findings)['*']?.[0] ?? '', /^bypass: uses the version 1 format/);
    const broken = containers({ 'registries.conf': GOOD_CONF, 'd/x.conf': '[[registry]\n' }, ['d']);
    assert.match(
      summary(broken.findings)['*']?.[0] ?? '',
      /^bypass: cannot be read \(not TOML sigward doctor can read: line 1/,
    );
  });

  test('sigward as the location under a name of another registry is a warning (pulls fail, nothing bypasses)', () => {
    const r = containers({ 'registries.conf': GOOD_CONF.replace('127.0.0.1:5050/ghcr.io', '127.0.0.1:5050/quay.io') });
    assert.deepEqual(statusOf(r.findings, 'ghcr.io'), ['warning']);
  });
});

describe('docker daemon.json', () => {
  function docker(text: string | undefined) {
    const root = tree(text === undefined ? {} : { 'daemon.json': text });
    return checkDocker(join(root, 'daemon.json'), UPSTREAMS, HTTP, FIXES);
  }

  test('registry-mirrors cannot enforce: a bypass for Docker Hub whether or not it names sigward', () => {
    const mirror = docker('{"registry-mirrors": ["http://127.0.0.1:5050"]}');
    assert.match(
      summary(mirror.findings)['docker.io']?.[0] ?? '',
      /^bypass: registry-mirrors names sigward, but docker falls back to Docker Hub/,
    );
    assert.equal(mirror.findings[0]?.fix, 'docker-fix docker.io');
    const other = docker('{"registry-mirrors": ["https://mirror.gcr.io"]}');
    assert.match(
      summary(other.findings)['docker.io']?.[0] ?? '',
      /^bypass: registry-mirrors \(https:\/\/mirror\.gcr\.io\) does not name sigward/,
    );
    // Other registries: docker pulls them directly, which only the network can stop.
    assert.deepEqual(statusOf(mirror.findings, 'ghcr.io'), ['warning']);
  });

  test('no mirrors: a warning per registry; a broken file: a bypass; no file: docker is not configured', () => {
    assert.deepEqual(statusOf(docker('{}').findings, 'docker.io'), ['warning']);
    assert.deepEqual(
      docker('{"registry-mirrors": [').findings.map((f) => f.status),
      ['bypass'],
    );
    assert.deepEqual(docker(undefined), { found: false, findings: [] });
  });
});

describe('names and files doctor must not skip', () => {
  test('an alias with a port is a name references reach the registry by: checked', () => {
    const parsed = parseConfigText(`upstreams:
  - host: registry.internal
    url: https://10.0.0.5:5000
    aliases: [registry.internal:5000, mirror.internal:5443, never-resolved.sigward]
`);
    assert.ok(parsed.config, JSON.stringify(parsed.problems));
    const [u] = parsed.config.upstreams;
    assert.ok(u !== undefined);
    assert.deepEqual(reachableNames(u), ['registry.internal:5000', 'mirror.internal:5443']);
    // Each gets its own finding: no hosts.toml for either is a bypass for both.
    const root = tree({ 'certs.d/_placeholder': '' });
    const r = checkContainerd(
      {
        configFile: join(root, 'absent.toml'),
        certsDir: join(root, 'certs.d'),
        defaultCertsDir: join(root, 'certs.d'),
      },
      parsed.config.upstreams,
      HTTP,
      FIXES,
    );
    assert.deepEqual(
      r.findings.filter((f) => f.registry !== undefined).map((f) => [f.registry, f.status]),
      [
        ['registry.internal:5000', 'bypass'],
        ['mirror.internal:5443', 'bypass'],
      ],
    );
  });

  test("config.toml's imports are read, in order, and win; a named import that is missing is a bypass", () => {
    const root = tree({ 'certs.d/_default/hosts.toml': '' });
    const certs = join(root, 'certs.d');
    mkdirSync(join(root, 'conf.d'));
    writeFileSync(
      join(root, 'conf.d', '10-cri.toml'),
      `[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "/elsewhere"\n`,
    );
    writeFileSync(
      join(root, 'conf.d', '20-cri.toml'),
      `[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = ${JSON.stringify(certs)}\n`,
    );
    writeFileSync(join(root, 'config.toml'), 'version = 2\nimports = ["conf.d/*.toml"]\n');
    const run = () =>
      checkContainerd(
        { configFile: join(root, 'config.toml'), certsDir: undefined, defaultCertsDir: join(root, 'default-certs') },
        UPSTREAMS,
        HTTP,
        FIXES,
      );
    const imported = run();
    assert.equal(imported.certsDir, certs, 'the last import that sets config_path is in force');
    assert.deepEqual(
      imported.findings.filter((f) => f.registry === undefined && f.status === 'bypass'),
      [],
      'config_path is set (by an import), and its directory exists',
    );
    writeFileSync(join(root, 'config.toml'), `version = 2\nimports = ["conf.d/*.toml", "gone.toml"]\n`);
    const gone = run();
    assert.deepEqual(
      gone.findings.filter((f) => f.registry === undefined && f.status === 'bypass').map((f) => f.file),
      [join(root, 'gone.toml')],
    );
  });

  test("an import's CRI plugin table replaces the whole table: config_path set before it is gone, a bypass", () => {
    const root = tree({ 'certs.d/_default/hosts.toml': '' });
    const certs = join(root, 'certs.d');
    mkdirSync(join(root, 'conf.d'));
    writeFileSync(
      join(root, 'config.toml'),
      `version = 2\nimports = ["conf.d/*.toml"]\n[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = ${JSON.stringify(certs)}\n`,
    );
    writeFileSync(
      join(root, 'conf.d', '10-cri.toml'),
      `[plugins."io.containerd.grpc.v1.cri"]\nsandbox_image = "pause"\n`,
    );
    const r = checkContainerd(
      { configFile: join(root, 'config.toml'), certsDir: undefined, defaultCertsDir: join(root, 'default-certs') },
      UPSTREAMS,
      HTTP,
      FIXES,
    );
    const bypass = r.findings.filter((f) => f.registry === undefined && f.status === 'bypass');
    assert.deepEqual(
      bypass.map((f) => f.file),
      [join(root, 'conf.d', '10-cri.toml')],
    );
    assert.match(bypass[0]?.message ?? '', /config_path is not set/);
  });
});
