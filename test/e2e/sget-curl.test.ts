// curl as the real client of /sget on the sigward DAEMON: `curl -fsSL …/sget/… | sh` runs a signed script and
// nothing else; every refusal makes `curl -f` exit non-zero with no byte of the refused artifact in its output file;
// `curl -C -` resumes from the verified store file and `curl -OJ` names the file after its title.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OCI_MANIFEST, pushBlob, pushManifest, sha256 } from '../helpers/images.ts';
import { serveBlob, serveManifest, startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.ts';
import { newKey, signLegacy } from '../helpers/cosign.ts';
import { removeTempDir, runCommand, tempDir } from '../helpers/proc.ts';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { startSigwardProcess, type RunningSigward } from '../helpers/sigward.ts';
import { at } from '../helpers/must.ts';

const EMPTY = Buffer.from('{}');

function artifact(files: { title: string; data: string }[]): { bytes: Buffer; digest: string; blobs: Buffer[] } {
  const blobs = files.map((f) => Buffer.from(f.data));
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(EMPTY), size: EMPTY.length },
      layers: files.map((f, i) => ({
        mediaType: 'application/x-sh',
        digest: sha256(at(blobs, i)),
        size: at(blobs, i).length,
        annotations: { 'org.opencontainers.image.title': f.title },
      })),
    }),
  );
  return { bytes, digest: sha256(bytes), blobs };
}

const script = (word: string) =>
  `#!/bin/sh\n# ${'padding so that a resumed download has something to resume '.repeat(4)}\necho ${word} >> "$MARKER"\n`;

describe('curl and /sget on the daemon', () => {
  let reg: Registry;
  let fake: FakeUpstream;
  let sw: RunningSigward;
  let dir: string;
  const alice = newKey('alice');
  const mallory = newKey('mallory');
  const good = artifact([{ title: 'install.sh', data: script('installed') }]);
  const evil = artifact([{ title: 'install.sh', data: script('pwned-unsigned') }]);
  const forged = artifact([{ title: 'install.sh', data: script('pwned-forged') }]);
  const free = artifact([{ title: 'install.sh', data: script('pwned-unsigned-policy') }]);
  const two = artifact([
    { title: 'a.sh', data: script('pwned-a') },
    { title: 'b.sh', data: script('pwned-b') },
  ]);
  const lying = artifact([{ title: 'install.sh', data: script('pwned-lying-upstream') }]);

  before(async () => {
    dir = tempDir('sget-curl');
    reg = await startRegistry();
    fake = await startFakeUpstream();
    const put = async (repo: string, a: ReturnType<typeof artifact>) => {
      await pushBlob(reg, repo, EMPTY);
      for (const b of a.blobs) await pushBlob(reg, repo, b);
      await pushManifest(reg, repo, 'v1', a.bytes, OCI_MANIFEST);
    };
    await put('apps/good', good);
    await signLegacy(reg, 'apps/good', good.digest, { keys: [alice] });
    await put('apps/evil', evil);
    await put('apps/forged', forged);
    await signLegacy(reg, 'apps/forged', forged.digest, { keys: [mallory] });
    await put('apps/two', two);
    await signLegacy(reg, 'apps/two', two.digest, { keys: [alice] });
    await put('tools/free', free);
    // An upstream that serves other bytes under the layer's digest.
    const bad = Buffer.from(script('pwned-lying-upstream').replace('pwned', 'PWNED'));
    fake.route(`/v2/files/lying/manifests/${lying.digest}`, (req, res) =>
      serveManifest(res, lying.bytes, OCI_MANIFEST, req.method),
    );
    fake.route(`/v2/files/lying/blobs/${sha256(at(lying.blobs, 0))}`, (_req, res) =>
      serveBlob(res, bad, { digest: sha256(at(lying.blobs, 0)) }),
    );
    sw = await startSigwardProcess({
      upstreams: [
        { host: 'example.test', url: reg.url },
        { host: 'bad.test', url: fake.url },
      ],
      cache: { dir: 'cache' },
      trust: { keys: { alice: { pem: alice.publicPem } } },
      policy: {
        default: 'deny',
        policies: [
          { name: 'apps', match: ['example.test/apps/*'], keys: ['alice'] },
          { name: 'tools', match: ['example.test/tools/*'], allow: 'unsigned' },
          { name: 'lying', match: ['bad.test/files/*'], allow: 'unsigned' },
        ],
      },
    });
  });

  after(async () => {
    await sw?.stop();
    await fake?.stop();
    await reg?.stop();
    if (dir) removeTempDir(dir);
  });

  /** `curl -fsSL URL | sh` with $MARKER set; returns what the script wrote (empty when nothing ran). */
  async function pipeToSh(path: string, name: string): Promise<string> {
    const marker = join(dir, `${name}.marker`);
    const res = await runCommand('sh', ['-c', `curl -fsSL "$URL" | sh`], {
      env: { ...process.env, URL: `${sw.url}${path}`, MARKER: marker },
    });
    assert.equal(res.code, 0, res.stderr);
    return existsSync(marker) ? readFileSync(marker, 'utf8') : '';
  }

  test('curl -fsSL …/sget/<signed tag> | sh runs the signed script', async () => {
    assert.equal(await pipeToSh('/sget/example.test/apps/good:v1', 'good'), 'installed\n');
  });

  const refusals: [string, string][] = [
    ['unsigned, by tag', '/sget/example.test/apps/evil:v1'],
    ['signed by an untrusted key', '/sget/example.test/apps/forged:v1'],
    ['allow: unsigned, by tag', '/sget/example.test/tools/free:v1'],
    ['several files, none named', '/sget/example.test/apps/two:v1'],
    ['an upstream serving wrong bytes', `/sget/bad.test/files/lying@${lying.digest}`],
    ['a registry that is not configured', '/sget/evil.example/apps/good:v1'],
  ];
  for (const [what, path] of refusals) {
    test(`refused (${what}): curl -f exits non-zero, the output file holds nothing, sh runs nothing`, async () => {
      const out = join(dir, `${what.replace(/\W+/g, '-')}.out`);
      const res = await runCommand('curl', ['-fsSL', '-o', out, `${sw.url}${path}`]);
      assert.equal(res.code, 22, `curl exit ${res.code}: ${res.stderr}`);
      assert.ok(
        !existsSync(out) || statSync(out).size === 0,
        `${out} has ${existsSync(out) ? statSync(out).size : 0} bytes`,
      );
      assert.equal(await pipeToSh(path, what.replace(/\W+/g, '-')), '');
    });
  }

  test('curl -C - resumes a partial file from the verified store file', async () => {
    const whole = at(good.blobs, 0);
    const out = join(dir, 'resumed.sh');
    writeFileSync(out, whole.subarray(0, 40));
    const res = await runCommand('curl', [
      '-fsSL',
      '-C',
      '-',
      '-o',
      out,
      `${sw.url}/sget/example.test/apps/good@${good.digest}`,
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(readFileSync(out), whole);
  });

  test('curl -OJ names the file after its title; curl -I shows the checked headers', async () => {
    const res = await runCommand('curl', ['-fsSLOJ', `${sw.url}/sget/example.test/apps/two:v1?file=b.sh`], {
      cwd: dir,
    });
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(readFileSync(join(dir, 'b.sh')), two.blobs[1]);
    const head = await runCommand('curl', ['-fsSI', `${sw.url}/sget/example.test/apps/good:v1`]);
    assert.equal(head.code, 0, head.stderr);
    assert.match(head.stdout, new RegExp(`content-length: ${at(good.blobs, 0).length}`, 'i'));
    assert.match(head.stdout, /repr-digest: sha-256=:/i);
  });
});
