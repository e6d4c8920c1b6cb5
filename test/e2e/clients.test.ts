// Real pull clients through the sigward DAEMON (bin/sigward.mjs serve, as users run it) in front of a real
// distribution registry: skopeo and podman (containers/image, sigward as the registries.conf `location` with a path
// prefix) and containerd's ctr (hosts.toml with sigward as the only host, `?ns=`). Each client must end up with the
// exact digests that were pushed, and the daemon's access log must show that the bytes came through sigward.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startContainerd, type Containerd } from '../helpers/containerd.ts';
import { buildImage, buildMultiArch, pushImage, type TestImage } from '../helpers/images.ts';
import { createPodman, podmanWorks } from '../helpers/podman.ts';
import { removeTempDir, runCommand, tempDir, waitFor } from '../helpers/proc.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { createSkopeo, type Skopeo } from '../helpers/skopeo.ts';
import { startSigwardProcess, type RunningSigward } from '../helpers/sigward.ts';
import { at, must } from '../helpers/must.ts';

const single = buildImage({ files: { 'hello.txt': 'e2e through the sigward daemon\n' } });
const multi = buildMultiArch({ 'arch.txt': 'e2e through the sigward daemon\n' });

let reg: Registry | undefined;
let sw: RunningSigward | undefined;

interface AccessLine {
  reqId: string;
  method: string;
  path: string;
  status: number;
}

/** The daemon's access lines so far (pino JSON, msg "request"). */
function accessLines(): AccessLine[] {
  const text = readFileSync(must(must(sw, 'sw').logFile, 'sw.logFile'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as AccessLine & { msg?: string })
    .filter((l) => l.msg === 'request');
}

/** The access lines once `ready` holds for them. The daemon's logger writes asynchronously, so the last lines of a
 * pull may reach the file a moment after the client is done; past the wait the caller's assertions say what is
 * missing. */
async function settledAccessLines(ready: (lines: AccessLine[]) => boolean): Promise<AccessLine[]> {
  await waitFor(async () => ready(accessLines()), 'the daemon to log the access lines', 5_000).catch(() => undefined);
  return accessLines();
}

/** Every blob of an image (children included) is in the OCI layout, and its bytes hash to its name. */
function assertLayoutHolds(dir: string, image: TestImage): void {
  const all = image.manifests.length > 0 ? [image, ...image.manifests] : [image];
  for (const img of all) {
    const file = join(dir, 'blobs/sha256', img.digest.slice(7));
    assert.ok(existsSync(file), `manifest ${img.digest} in the layout`);
    assert.deepEqual(readFileSync(file), img.bytes, `manifest ${img.digest} byte-exact`);
    for (const digest of img.blobs.keys()) {
      const blob = join(dir, 'blobs/sha256', digest.slice(7));
      assert.ok(existsSync(blob), `blob ${digest} in the layout`);
      assert.equal(`sha256:${createHash('sha256').update(readFileSync(blob)).digest('hex')}`, digest);
    }
  }
}

/** The one manifest descriptor of an OCI layout's index.json. */
function layoutTop(dir: string): { digest: string; mediaType: string } {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as {
    manifests: { digest: string; mediaType: string }[];
  };
  assert.equal(index.manifests.length, 1, JSON.stringify(index));
  return at(index.manifests, 0);
}

before(async () => {
  reg = await startRegistry();
  await pushImage(reg, 'test/single', 'v1', single);
  await pushImage(reg, 'test/multi', 'v1', multi);
  sw = await startSigwardProcess({
    upstreams: [{ host: 'example.test', url: reg.url, default: true }],
    // The clients are what is tested here; the signature gate has its own tests.
    policy: { default: 'allow' },
  });
});

after(async () => {
  await sw?.stop();
  await reg?.stop();
});

describe('skopeo through the daemon (path-prefix location)', () => {
  let skopeo: Skopeo;
  const dirs: string[] = [];
  const out = (): string => {
    const d = tempDir('oci-layout');
    dirs.push(d);
    return d;
  };
  before(() => {
    skopeo = createSkopeo({ sigward: must(sw, 'sw').host, prefix: 'example.test' });
  });
  after(() => {
    skopeo?.remove();
    for (const d of dirs) removeTempDir(d);
  });

  test('copy --all of a multi-arch tag keeps the pushed index digest and every blob', async () => {
    const dir = out();
    const res = await skopeo.copyAll('example.test/test/multi:v1', dir, 'x');
    assert.equal(res.code, 0, res.stderr);
    const top = layoutTop(dir);
    assert.equal(top.digest, multi.digest);
    assert.equal(top.mediaType, multi.mediaType);
    assertLayoutHolds(dir, multi);
    const childServed = (lines: AccessLine[], digest: string): boolean =>
      lines.some((l) => l.path === `/v2/example.test/test/multi/manifests/${digest}` && l.status === 200);
    const seen = await settledAccessLines((lines) => multi.manifests.every((c) => childServed(lines, c.digest)));
    for (const child of multi.manifests)
      assert.ok(childServed(seen, child.digest), `child ${child.digest} via sigward`);
  });

  test('copy of a single image by tag and by digest', async () => {
    for (const ref of ['example.test/test/single:v1', `example.test/test/single@${single.digest}`]) {
      const dir = out();
      const res = await skopeo.run(['copy', `docker://${ref}`, `oci:${dir}:x`]);
      assert.equal(res.code, 0, `${ref}: ${res.stderr}`);
      assert.equal(layoutTop(dir).digest, single.digest, ref);
      assertLayoutHolds(dir, single);
    }
    const byDigest = (l: AccessLine): boolean => l.path === `/v2/example.test/test/single/manifests/${single.digest}`;
    assert.ok((await settledAccessLines((lines) => lines.some(byDigest))).some(byDigest));
  });

  test('inspect --raw prints the manifests byte-exact', async () => {
    for (const [ref, image] of [
      ['example.test/test/single:v1', single],
      ['example.test/test/multi:v1', multi],
      [`example.test/test/multi@${at(multi.manifests, 1).digest}`, at(multi.manifests, 1)],
    ] as const) {
      const res = await skopeo.inspectRaw(ref);
      assert.equal(res.code, 0, `${ref}: ${res.stderr}`);
      assert.equal(res.stdout, image.bytes.toString(), ref);
    }
  });

  test('a missing tag fails with the registry error, not a fallback', async () => {
    const res = await skopeo.inspectRaw('example.test/test/single:nope');
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /manifest unknown/i);
    assert.match(res.stderr, new RegExp(must(sw, 'sw').host.replace(/\./g, '\\.')));
  });
});

describe('containerd ctr through the daemon (hosts.toml, sigward the only host)', () => {
  let ctd: Containerd;
  before(async () => {
    ctd = await startContainerd();
    ctd.writeHosts(must(sw, 'sw').url);
  });
  after(async () => {
    await ctd?.stop();
  });

  /** `ctr images ls` columns: REF TYPE DIGEST SIZE PLATFORMS LABELS. */
  async function listed(ref: string): Promise<string[]> {
    const res = await ctd.ctr(['images', 'ls']);
    assert.equal(res.code, 0, res.stderr);
    const line = res.stdout.split('\n').find((l) => l.split(/\s+/)[0] === ref);
    assert.ok(line, `${ref} in:\n${res.stdout}`);
    return line.split(/\s+/);
  }

  test('pulls a single image by tag: the listed digest is the pushed one', async () => {
    const res = await ctd.ctrPull('example.test/test/single:v1');
    assert.equal(res.code, 0, res.stderr);
    const cols = await listed('example.test/test/single:v1');
    assert.equal(cols[2], single.digest);
    assert.equal(cols[1], single.mediaType);
    // containerd resolves with HEAD, then fetches by digest, every request with ?ns= of the image's registry.
    const lines = await settledAccessLines((ls) =>
      [...single.blobs.keys()].every((d) => ls.some((l) => l.path === `/v2/test/single/blobs/${d}?ns=example.test`)),
    );
    assert.ok(
      lines.some(
        (l) => l.method === 'HEAD' && l.path === '/v2/test/single/manifests/v1?ns=example.test' && l.status === 200,
      ),
    );
    for (const digest of single.blobs.keys()) {
      assert.ok(
        lines.some(
          (l) => l.method === 'GET' && l.path === `/v2/test/single/blobs/${digest}?ns=example.test` && l.status === 200,
        ),
        digest,
      );
    }
  });

  test('pulls every platform of a multi-arch image with --all-platforms', async () => {
    const res = await ctd.ctrPull('example.test/test/multi:v1', { allPlatforms: true });
    assert.equal(res.code, 0, res.stderr);
    const cols = await listed('example.test/test/multi:v1');
    assert.equal(cols[2], multi.digest);
    assert.match(cols.join(' '), /linux\/amd64/);
    assert.match(cols.join(' '), /linux\/arm64/);
    const lines = await settledAccessLines((ls) =>
      multi.manifests.every((c) =>
        [...c.blobs.keys()].every((d) => ls.some((l) => l.path === `/v2/test/multi/blobs/${d}?ns=example.test`)),
      ),
    );
    for (const child of multi.manifests) {
      for (const digest of child.blobs.keys()) {
        assert.ok(
          lines.some((l) => l.path === `/v2/test/multi/blobs/${digest}?ns=example.test` && l.status === 200),
          `${child.platform?.architecture} ${digest}`,
        );
      }
    }
  });

  test('a missing tag fails the pull with the status sigward answered', async () => {
    const res = await ctd.ctrPull('example.test/test/single:nope', { timeoutMs: 60_000 });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /not found/);
  });
});

describe('podman through the daemon (rootful, vfs)', () => {
  test('pulls a single image by tag and a multi-arch image by digest', async (t) => {
    if (!(await podmanWorks())) {
      // Not a skip: prove podman really cannot run here, and say why, so the missing coverage is visible.
      const probe = await runCommand('podman', ['--storage-driver', 'vfs', 'info'], { timeoutMs: 30_000 }).catch(
        (e: Error) => ({ code: -1, stdout: '', stderr: e.message }),
      );
      assert.notEqual(probe.code, 0, 'podmanWorks() said no, but podman info succeeded: the probe is wrong');
      t.diagnostic(
        `podman cannot run on this machine, so no podman pull was tested: ${probe.stderr.trim().split('\n').slice(-3).join(' | ')}`,
      );
      return;
    }
    const podman = createPodman({ sigward: must(sw, 'sw').host, prefix: 'example.test' });
    try {
      const a = await podman.pull('example.test/test/single:v1');
      assert.equal(a.code, 0, a.stderr);
      const b = await podman.pull(`example.test/test/multi@${multi.digest}`);
      assert.equal(b.code, 0, b.stderr);
      const res = await podman.run(['images', '--digests', '--format', '{{.Repository}}:{{.Tag}} {{.Digest}}']);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, new RegExp(`^example\\.test/test/single:v1 ${single.digest}$`, 'm'));
      assert.match(res.stdout, new RegExp(`^example\\.test/test/multi:<none> ${multi.digest}$`, 'm'));
      // podman pulls only the host platform of an index (linux/amd64 on these machines), by digest, via sigward.
      const amd64 = must(
        multi.manifests.find((m) => m.platform?.architecture === 'amd64'),
        "multi.manifests.find((m) => m.platform?.architecture === 'amd64')",
      );
      const amd64Served = (l: AccessLine): boolean =>
        l.path === `/v2/example.test/test/multi/manifests/${amd64.digest}` && l.status === 200;
      assert.ok((await settledAccessLines((ls) => ls.some(amd64Served))).some(amd64Served));
    } finally {
      podman.remove();
    }
  });
});
