// `sigward client-config`: the exact snippet each runtime needs for Docker Hub, ghcr.io and a private registry with
// a port (golden strings), the checks against --config, and the printed registries.conf proven end to end: skopeo
// pulls through a running sigward with only that file, for a private registry reached by its port-less alias.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { clientConfigCommand } from '../../src/cli/client-config.ts';
import { main } from '../../src/main.ts';
import { buildImage, pushImage } from '../helpers/images.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { createSkopeo } from '../helpers/skopeo.ts';
import { startSigward, type RunningSigward } from '../helpers/sigward.ts';

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(argv: readonly string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await clientConfigCommand(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: {} });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const CONTAINERD_HUB = `server = "http://127.0.0.1:5050"   # sigward is the server: no fallback to docker.io
[host]                             # a bare host table is REQUIRED: without one containerd 1.6 ignores the file`;

const CONTAINERD_GHCR = `server = "http://127.0.0.1:5050"   # sigward is the server: no fallback to ghcr.io
[host]                             # a bare host table is REQUIRED: without one containerd 1.6 ignores the file`;

const PODMAN_HUB = `[[registry]]
prefix = "docker.io"
location = "127.0.0.1:5050/docker.io"   # the location, NOT a [[registry.mirror]]: a mirror's refusal falls back to docker.io
insecure = true                         # sigward serves plain HTTP`;

const PODMAN_GHCR = `[[registry]]
prefix = "ghcr.io"
location = "127.0.0.1:5050/ghcr.io"   # the location, NOT a [[registry.mirror]]: a mirror's refusal falls back to ghcr.io
insecure = true                       # sigward serves plain HTTP`;

const DOCKER_HUB = `{
  "registry-mirrors": [
    "http://127.0.0.1:5050"
  ]
}`;

describe('sigward client-config', () => {
  let dir: string;
  let configFile: string;
  before(() => {
    dir = tempDir('client-config');
    configFile = join(dir, 'sigward.yaml');
    writeFileSync(
      configFile,
      stringify({
        listen: '127.0.0.1:5055',
        upstreams: [
          { host: 'docker.io', default: true },
          { host: 'ghcr.io' },
          { host: 'registry.internal:5000', url: 'https://registry.internal:5000', aliases: ['registry.internal'] },
          { host: '10.0.0.7:5000', url: 'http://10.0.0.7:5000' },
        ],
        policy: { default: 'deny' },
      }),
    );
  });
  after(() => removeTempDir(dir));

  test('containerd: sigward as the server with a bare [host], for Docker Hub, ghcr.io and a private host', async () => {
    const hub = await run(['containerd', '--upstream', 'docker.io']);
    assert.deepEqual([hub.code, hub.out], [0, CONTAINERD_HUB]);
    assert.match(hub.err, /\/etc\/containerd\/certs\.d\/docker\.io\/hosts\.toml/);
    const ghcr = await run(['containerd', '--upstream', 'ghcr.io']);
    assert.deepEqual([ghcr.code, ghcr.out], [0, CONTAINERD_GHCR]);
    // containerd sends ?ns=HOST, so a port is no problem; the directory is named host:port.
    const priv = await run(['containerd', '--upstream', 'registry.internal:5000', '--config', configFile]);
    assert.equal(priv.code, 0);
    assert.equal(
      priv.out,
      `server = "http://127.0.0.1:5055"   # sigward is the server: no fallback to registry.internal:5000
[host]                             # a bare host table is REQUIRED: without one containerd 1.6 ignores the file`,
    );
    assert.match(priv.err, /certs\.d\/registry\.internal:5000\/hosts\.toml/);
    const tls = await run(['containerd', '--upstream', 'ghcr.io', '--sigward', 'https://sigward.internal:8443']);
    assert.equal(
      tls.out,
      `server = "https://sigward.internal:8443"   # sigward is the server: no fallback to ghcr.io
[host]                                     # a bare host table is REQUIRED: without one containerd 1.6 ignores the file
# sigward with a private CA: add ca = "/etc/containerd/certs.d/sigward-ca.crt"`,
    );
  });

  test('podman: sigward as the location (never a mirror), insecure only over http; a port needs an alias', async () => {
    assert.deepEqual(await run(['podman', '--upstream', 'docker.io']), {
      code: 0,
      out: PODMAN_HUB,
      err: '# add to /etc/containers/registries.conf (or a file in /etc/containers/registries.conf.d/); podman, skopeo and CRI-O read it',
    });
    assert.equal((await run(['podman', '--upstream', 'ghcr.io'])).out, PODMAN_GHCR);
    // An alias of Docker Hub is Docker Hub.
    assert.equal(
      (await run(['podman', '--upstream', 'index.docker.io', '--config', configFile])).out,
      PODMAN_HUB.replaceAll('5050', '5055'),
    );
    const priv = await run(['podman', '--upstream', 'registry.internal:5000', '--config', configFile]);
    assert.equal(priv.code, 0);
    assert.equal(
      priv.out,
      `[[registry]]
prefix = "registry.internal:5000"
location = "127.0.0.1:5055/registry.internal"   # the location, NOT a [[registry.mirror]]: a mirror's refusal falls back to registry.internal:5000
insecure = true                                 # sigward serves plain HTTP`,
    );
    const https = await run(['podman', '--upstream', 'ghcr.io', '--sigward', 'https://sigward.internal']);
    assert.equal(
      https.out,
      `[[registry]]
prefix = "ghcr.io"
location = "sigward.internal/ghcr.io"   # the location, NOT a [[registry.mirror]]: a mirror's refusal falls back to ghcr.io`,
    );
    // A port and no port-less alias: the caveat and the recipe, nothing to paste, exit 2.
    const noAlias = await run(['podman', '--upstream', '10.0.0.7:5000', '--config', configFile]);
    assert.equal(noAlias.code, 2);
    assert.equal(noAlias.out, '');
    assert.equal(
      noAlias.err,
      `# 10.0.0.7:5000 has a port: skopeo, podman and docker refuse a reference like 127.0.0.1:5055/10.0.0.7:5000/REPO (a ':' is
# not allowed in a repository path), so the path prefix must be a port-less name of the same registry.
# In sigward.yaml, name the upstream without the port and keep the port in url and aliases (what
# sigward check-config suggests), e.g.
#   - host: 10-0-0-7.registry   # any name without a port; it is never resolved
#     url: http://10.0.0.7:5000
#     aliases: [10.0.0.7:5000]
# and run this again with --config, which then uses it.`,
    );
  });

  test('docker: registry-mirrors for Docker Hub only, with the fallback warning', async () => {
    const hub = await run(['docker', '--upstream', 'docker.io']);
    assert.equal(hub.code, 0);
    assert.equal(hub.out, DOCKER_HUB);
    assert.match(
      hub.err,
      /WARNING: docker falls back to Docker Hub \(registry-1\.docker\.io\) when the mirror refuses/,
    );
    assert.match(hub.err, /docker pull 127\.0\.0\.1:5050\/docker\.io\/REPO:TAG/);
    const ghcr = await run(['docker', '--upstream', 'ghcr.io']);
    assert.equal(ghcr.code, 0);
    assert.equal(ghcr.out, '');
    assert.equal(
      ghcr.err,
      `# docker's registry-mirrors applies to Docker Hub only: there is no daemon.json setting for ghcr.io.
# To enforce with docker, address images through sigward's name and block direct access to registries:
#   docker pull 127.0.0.1:5050/ghcr.io/REPO:TAG
# (plain HTTP: list 127.0.0.1:5050 in daemon.json "insecure-registries" unless it is on 127.0.0.0/8)`,
    );
    const priv = await run(['docker', '--upstream', 'registry.internal:5000', '--config', configFile]);
    assert.match(priv.err, /docker pull 127\.0\.0\.1:5055\/registry\.internal\/REPO:TAG/);
    assert.match((await run(['docker', '--upstream', '10.0.0.7:5000', '--config', configFile])).err, /has a port/);
  });

  test('bad input exits 2 with one line; --help exits 0; the command is listed', async () => {
    const unknown = await run(['podman', '--upstream', 'quay.io', '--config', configFile]);
    assert.equal(unknown.code, 2);
    assert.match(
      unknown.err,
      /--upstream quay\.io is not a configured upstream \(configured: docker\.io, ghcr\.io, registry\.internal:5000, 10\.0\.0\.7:5000\)/,
    );
    assert.equal((await run(['cri', '--upstream', 'ghcr.io'])).code, 2);
    assert.equal((await run(['podman'])).code, 2);
    assert.equal((await run(['podman', '--upstream', 'ghcr.io', '--sigward', 'http://x/path'])).code, 2);
    assert.equal((await run(['podman', '--upstream', 'ghcr.io', '--bogus'])).code, 2);
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /^usage: sigward client-config containerd\|podman\|docker --upstream HOST/);
    const out: string[] = [];
    assert.equal(await main(['help'], { out: (l) => out.push(l), err: () => {}, env: {} }), 0);
    assert.match(out.join('\n'), /client-config RUNTIME --upstream HOST/);
  });
});

describe('client-config end to end: skopeo pulls with the printed registries.conf', () => {
  let reg: Registry;
  let sw: RunningSigward;
  const image = buildImage({ files: { 'hello.txt': 'pulled with the printed registries.conf\n' } });
  before(async () => {
    reg = await startRegistry();
    await pushImage(reg, 'test/single', 'v1', image);
    sw = await startSigward({
      // The registry's own name has a port; the alias is the port-less name the path prefix uses.
      upstreams: [{ host: reg.host, url: reg.url, aliases: ['private-registry.test'] }],
      policy: { default: 'allow' },
    });
  });
  after(async () => {
    await sw?.stop();
    await reg?.stop();
  });

  test('a private registry with a port, through its alias', async () => {
    const printed = await run(['podman', '--upstream', reg.host, '--config', sw.configFile, '--sigward', sw.url]);
    assert.equal(printed.code, 0, printed.err);
    assert.match(printed.out, new RegExp(`location = "${sw.host}/private-registry.test"`));
    const skopeo = createSkopeo({ sigward: sw.host });
    const out = tempDir('client-config-pull');
    try {
      writeFileSync(skopeo.registriesConf, `unqualified-search-registries = []\n\n${printed.out}\n`);
      const res = await skopeo.run(['copy', `docker://${reg.host}/test/single:v1`, `oci:${out}:x`]);
      assert.equal(res.code, 0, res.stderr);
      // Through sigward: it fetched the manifest and the layers from the registry.
      const seen = sw.upstreamRequests.map((r) => `${r.method} ${new URL(r.url).pathname}`);
      assert.ok(seen.includes('GET /v2/test/single/manifests/v1'), seen.join('\n'));
      for (const digest of image.blobs.keys()) {
        assert.ok(seen.includes(`GET /v2/test/single/blobs/${digest}`), `${digest} through sigward`);
      }
    } finally {
      skopeo.remove();
      removeTempDir(out);
    }
  });
});
