// Real clients through the sigward DAEMON with a signature policy: skopeo and containerd pull a signed image, and
// are refused an unsigned or wrongly signed one with the reason visible in what the user sees.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { buildImage, buildMultiArch, pushImage, type TestImage } from '../helpers/images.ts';
import { startSigwardProcess, type RunningSigward } from '../helpers/sigward.ts';
import { newKey, signLegacy } from '../helpers/cosign.ts';
import { createSkopeo, type Skopeo } from '../helpers/skopeo.ts';
import { startContainerd, type Containerd } from '../helpers/containerd.ts';
import { tempDir, removeTempDir } from '../helpers/proc.ts';

describe('real clients through the gate', () => {
  let reg: Registry;
  let sw: RunningSigward;
  let skopeo: Skopeo;
  let ctd: Containerd;
  let work: string;
  const alice = newKey('alice');
  const mallory = newKey('mallory');
  const signed: TestImage = buildImage({ files: { 'hello.txt': 'signed\n' } });
  const unsigned: TestImage = buildImage({ files: { 'hello.txt': 'unsigned\n' } });
  const wrong: TestImage = buildImage({ files: { 'hello.txt': 'signed by mallory\n' } });
  const multi: TestImage = buildMultiArch({ 'multi.txt': 'index signed\n' });

  before(async () => {
    reg = await startRegistry();
    await pushImage(reg, 'apps/signed', 'v1', signed);
    await signLegacy(reg, 'apps/signed', signed.digest, { keys: [alice] });
    await pushImage(reg, 'apps/unsigned', 'v1', unsigned);
    await pushImage(reg, 'apps/wrong', 'v1', wrong);
    await signLegacy(reg, 'apps/wrong', wrong.digest, { keys: [mallory] });
    await pushImage(reg, 'apps/multi', 'v1', multi);
    await signLegacy(reg, 'apps/multi', multi.digest, { keys: [alice] });
    sw = await startSigwardProcess({
      upstreams: [{ host: 'example.test', url: reg.url }],
      trust: { keys: { alice: { pem: alice.publicPem } } },
      policy: { default: 'deny', policies: [{ name: 'apps', match: ['example.test/apps/*'], keys: ['alice'] }] },
    });
    skopeo = createSkopeo({ sigward: sw.host, prefix: 'example.test' });
    ctd = await startContainerd();
    ctd.writeHosts(sw.url, { registryHost: 'example.test' });
    work = tempDir('gate-clients');
  });

  after(async () => {
    await ctd?.stop();
    skopeo?.remove();
    await sw?.stop();
    await reg?.stop();
    if (work) removeTempDir(work);
  });

  test('skopeo copies a signed multi-arch image and a signed single image', async () => {
    const r = await skopeo.copyAll('example.test/apps/multi:v1', join(work, 'multi'), 'x');
    assert.equal(r.code, 0, r.stderr);
    const s = await skopeo.inspectRaw('example.test/apps/signed:v1');
    assert.equal(s.code, 0, s.stderr);
    assert.equal(s.stdout, signed.bytes.toString());
  });

  test('skopeo is refused an unsigned image and shows why', async () => {
    const r = await skopeo.inspectRaw('example.test/apps/unsigned:v1');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /denied: /);
    assert.match(r.stderr, /no signatures were found/i);
    assert.match(r.stderr, new RegExp(unsigned.digest.slice(7, 19)));
  });

  test('skopeo is refused an image signed by an untrusted key', async () => {
    const r = await skopeo.inspectRaw('example.test/apps/wrong:v1');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /denied: /);
    assert.match(r.stderr, /not counted: unknown-key/);
  });

  test('containerd pulls a signed multi-arch image (all platforms) with sigward as its only host', async () => {
    const r = await ctd.ctrPull('example.test/apps/multi:v1', { allPlatforms: true });
    assert.equal(r.code, 0, r.stderr);
    const list = await ctd.ctr(['images', 'ls']);
    assert.match(list.stdout, new RegExp(multi.digest));
  });

  test('containerd is refused an unsigned image and shows the short reason from the status line', async () => {
    const r = await ctd.ctrPull('example.test/apps/unsigned:v1');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /403 Forbidden \(no signatures found \(policy apps\)\)/);
  });
});
