// Proves the real-client helpers (skopeo, containerd/ctr, podman) against a plain distribution registry standing
// where sigward will stand: the generated configurations route the fake host example.test to it and nowhere else.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startContainerd, type Containerd } from '../helpers/containerd.ts';
import { buildImage, buildMultiArch, pushImage } from '../helpers/images.ts';
import { createPodman, podmanWorks } from '../helpers/podman.ts';
import { freePort, removeTempDir, tempDir } from '../helpers/proc.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { createSkopeo } from '../helpers/skopeo.ts';
import { must } from '../helpers/must.ts';

const single = buildImage({ files: { 'hello.txt': 'client helpers\n' } });
const multi = buildMultiArch({ 'arch.txt': 'client helpers\n' });
let reg: Registry | undefined;
let tokenReg: Registry | undefined; // bearer-token auth: proves the issuer with real clients
let tlsReg: Registry | undefined; // https with its own CA: proves the certDir / ca options
let closedPort = 0; // nothing listens there: where a misrouted client would fail

before(async () => {
  reg = await startRegistry();
  await pushImage(reg, 'test/single', 'v1', single);
  await pushImage(reg, 'test/multi', 'v1', multi);
  tokenReg = await startRegistry({ auth: 'token' });
  await pushImage(tokenReg, 'test/single', 'v1', single);
  tlsReg = await startRegistry({ tls: true });
  await pushImage(tlsReg, 'test/single', 'v1', single);
  closedPort = await freePort();
});
after(async () => {
  await reg?.stop();
  await tokenReg?.stop();
  await tlsReg?.stop();
});

describe('skopeo helper', () => {
  test('writes a registries.conf with a location and no mirror', () => {
    const s = createSkopeo({ sigward: '127.0.0.1:5050' });
    try {
      const conf = readFileSync(s.registriesConf, 'utf8');
      assert.match(conf, /prefix = "example.test"\nlocation = "127.0.0.1:5050\/example.test"\ninsecure = true/);
      assert.doesNotMatch(conf, /mirror/);
    } finally {
      s.remove();
    }
  });

  test('inspect --raw and copy --all go to the configured location', async () => {
    const s = createSkopeo({ sigward: must(reg, 'reg').host, hostInPath: false });
    const out = tempDir('oci-out');
    try {
      const raw = await s.inspectRaw('example.test/test/multi:v1');
      assert.equal(raw.code, 0, raw.stderr);
      assert.equal(raw.stdout, multi.bytes.toString());
      const copy = await s.copyAll('example.test/test/multi:v1', out, 'x');
      assert.equal(copy.code, 0, copy.stderr);
      for (const child of multi.manifests)
        assert.ok(existsSync(join(out, 'blobs/sha256', child.digest.slice(7))), child.digest);
    } finally {
      s.remove();
      removeTempDir(out);
    }
  });

  test('credentials reach the token issuer as a Basic-authenticated GET', async () => {
    const s = createSkopeo({ sigward: must(tokenReg, 'tokenReg').host, hostInPath: false, creds: 'testuser:testpass' });
    try {
      must(must(tokenReg, 'tokenReg').tokenServer, 'tokenReg.tokenServer').reset();
      const raw = await s.inspectRaw('example.test/test/single:v1');
      assert.equal(raw.code, 0, raw.stderr);
      assert.equal(raw.stdout, single.bytes.toString());
      assert.ok(
        must(must(tokenReg, 'tokenReg').tokenServer, 'tokenReg.tokenServer').requests.some(
          (r) => r.method === 'GET' && r.user === 'testuser' && r.status === 200,
        ),
      );
    } finally {
      s.remove();
    }
  });

  test('an https location is verified against certDir, and fails without it', async () => {
    const good = createSkopeo({
      sigward: must(tlsReg, 'tlsReg').host,
      hostInPath: false,
      certDir: must(must(tlsReg, 'tlsReg').certDir, 'tlsReg.certDir'),
    });
    const bad = createSkopeo({ sigward: must(tlsReg, 'tlsReg').host, hostInPath: false, certDir: good.dir }); // a dir without the CA
    try {
      const ok = await good.inspectRaw('example.test/test/single:v1');
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout, single.bytes.toString());
      const refused = await bad.inspectRaw('example.test/test/single:v1');
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /certificate signed by unknown authority/);
    } finally {
      good.remove();
      bad.remove();
    }
  });

  test('a location where nothing listens fails there, not at the fake host', async () => {
    const s = createSkopeo({ sigward: `127.0.0.1:${closedPort}` });
    try {
      const res = await s.inspectRaw('example.test/test/single:v1');
      assert.notEqual(res.code, 0);
      assert.match(res.stderr, new RegExp(`127\\.0\\.0\\.1:${closedPort}`));
    } finally {
      s.remove();
    }
  });
});

describe('containerd helper', () => {
  let ctd: Containerd | undefined;
  before(async () => {
    ctd = await startContainerd();
  });
  after(async () => {
    await ctd?.stop();
  });

  test('ctr pulls every platform through the only host in hosts.toml', async () => {
    const file = must(ctd, 'ctd').writeHosts(must(reg, 'reg').url);
    assert.equal(readFileSync(file, 'utf8'), `server = "${must(reg, 'reg').url}"\n[host]\n`);
    const res = await must(ctd, 'ctd').ctrPull('example.test/test/multi:v1', { allPlatforms: true });
    assert.equal(res.code, 0, res.stderr);
    const images = await must(ctd, 'ctd').ctr(['images', 'ls', '-q']);
    assert.match(images.stdout, /^example\.test\/test\/multi:v1$/m);
    // containerd names the reference's host in ?ns= when it talks to another host: the request came via hosts.toml.
    assert.match(readFileSync(must(reg, 'reg').logFile, 'utf8'), /\/v2\/test\/multi\/manifests\/v1\?ns=example\.test/);
  });

  test('ctr --user gets its token through the OAuth2 form POST; a wrong password fails', async () => {
    must(ctd, 'ctd').writeHosts(must(tokenReg, 'tokenReg').url, { registryHost: 'auth.test' });
    must(must(tokenReg, 'tokenReg').tokenServer, 'tokenReg.tokenServer').reset();
    const bad = await must(ctd, 'ctd').ctrPull('auth.test/test/single:v1', { user: 'testuser:wrong' });
    assert.notEqual(bad.code, 0);
    const res = await must(ctd, 'ctd').ctrPull('auth.test/test/single:v1', { user: 'testuser:testpass' });
    assert.equal(res.code, 0, res.stderr);
    const requests = must(must(tokenReg, 'tokenReg').tokenServer, 'tokenReg.tokenServer').requests;
    assert.ok(requests.some((r) => r.method === 'POST' && r.user === undefined && r.status === 401));
    assert.ok(requests.some((r) => r.method === 'POST' && r.user === 'testuser' && r.status === 200));
  });

  test('an https server is trusted through the ca option', async () => {
    must(ctd, 'ctd').writeHosts(must(tlsReg, 'tlsReg').url, {
      registryHost: 'tls.test',
      ca: must(must(tlsReg, 'tlsReg').caFile, 'tlsReg.caFile'),
    });
    const res = await must(ctd, 'ctd').ctrPull('tls.test/test/single:v1');
    assert.equal(res.code, 0, res.stderr);
    must(ctd, 'ctd').writeHosts(must(tlsReg, 'tlsReg').url, { registryHost: 'notrust.test' });
    const refused = await must(ctd, 'ctd').ctrPull('notrust.test/test/single:v1');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /certificate signed by unknown authority/);
  });

  test('a server where nothing listens fails there, not at the fake host', async () => {
    must(ctd, 'ctd').writeHosts(`http://127.0.0.1:${closedPort}`, { registryHost: 'closed.test' });
    const res = await must(ctd, 'ctd').ctrPull('closed.test/test/single:v1', { timeoutMs: 60_000 });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, new RegExp(`127\\.0\\.0\\.1:${closedPort}`));
  });
});

describe('podman helper', () => {
  test('podman works on this machine (rootful, vfs)', async () => {
    assert.equal(await podmanWorks(), true);
  });

  test('podman pulls through the configured location', async () => {
    const p = createPodman({ sigward: must(reg, 'reg').host, hostInPath: false });
    try {
      const res = await p.pull('example.test/test/single:v1');
      assert.equal(res.code, 0, res.stderr);
      const listed = await p.run(['images', '--digests', '--format', '{{.Repository}}:{{.Tag}} {{.Digest}}']);
      assert.match(listed.stdout, new RegExp(`^example\\.test/test/single:v1 ${single.digest}$`, 'm'));
    } finally {
      p.remove();
    }
  });

  test('podman sends the auth-file credentials and trusts certDir', async () => {
    const withCreds = createPodman({
      sigward: must(tokenReg, 'tokenReg').host,
      hostInPath: false,
      creds: 'testuser:testpass',
    });
    const withCa = createPodman({
      sigward: must(tlsReg, 'tlsReg').host,
      hostInPath: false,
      certDir: must(must(tlsReg, 'tlsReg').certDir, 'tlsReg.certDir'),
    });
    try {
      const a = await withCreds.pull('example.test/test/single:v1');
      assert.equal(a.code, 0, a.stderr);
      const b = await withCa.pull('example.test/test/single:v1');
      assert.equal(b.code, 0, b.stderr);
    } finally {
      withCreds.remove();
      withCa.remove();
    }
  });

  test('a location where nothing listens fails there', async () => {
    const p = createPodman({ sigward: `127.0.0.1:${closedPort}` });
    try {
      const res = await p.pull('example.test/test/single:v1');
      assert.notEqual(res.code, 0);
      assert.match(res.stderr, new RegExp(`pinging container registry 127\\.0\\.0\\.1:${closedPort}`));
    } finally {
      p.remove();
    }
  });
});
