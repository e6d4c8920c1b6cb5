// The pure parts of the test helpers: deterministic images and tar archives, and the process helpers' failure paths.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { buildBigImage, buildImage, buildIndex, buildMultiArch, OCI_INDEX, sha256 } from '../helpers/images.ts';
import { freePort, removeTempDir, runCommand, startProcess, tempDir } from '../helpers/proc.ts';
import { makeTar } from '../helpers/tar.ts';
import { at, key, must } from '../helpers/must.ts';

describe('test images', () => {
  test('are deterministic and differ by platform and content', () => {
    assert.equal(buildImage().digest, buildImage().digest);
    assert.deepEqual(buildMultiArch().bytes, buildMultiArch().bytes);
    assert.notEqual(buildImage({ arch: 'arm64' }).digest, buildImage().digest);
    assert.notEqual(buildImage({ files: { 'a.txt': 'x' } }).digest, buildImage({ files: { 'a.txt': 'y' } }).digest);
    assert.notEqual(buildImage({ annotations: { n: '1' } }).digest, buildImage().digest);
  });

  test('manifest, config and layer agree with each other', () => {
    const img = buildImage({ files: { 'etc/hello.txt': 'hi\n' } });
    assert.equal(img.digest, sha256(img.bytes));
    assert.equal(img.size, img.bytes.length);
    assert.ok(!img.bytes.toString().includes('\n'), 'compact JSON');
    const m = JSON.parse(img.bytes.toString()) as {
      config: { digest: string; size: number };
      layers: { digest: string; size: number }[];
    };
    const config = img.blobs.get(m.config.digest) as Buffer;
    assert.equal(config.length, m.config.size);
    assert.equal(sha256(config), m.config.digest);
    const layer = img.blobs.get(at(m.layers, 0).digest) as Buffer;
    assert.equal(sha256(layer), at(m.layers, 0).digest);
    const diffIds = (JSON.parse(config.toString()) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
    assert.deepEqual(diffIds, [sha256(gunzipSync(layer))]);
  });

  test('an index lists every child with its platform and carries all their blobs', () => {
    const amd = buildImage({ arch: 'amd64' });
    const arm = buildImage({ arch: 'arm64', variant: 'v8' });
    const idx = buildIndex([amd, arm]);
    assert.equal(idx.mediaType, OCI_INDEX);
    const parsed = JSON.parse(idx.bytes.toString()) as {
      manifests: { digest: string; size: number; platform: object }[];
    };
    assert.deepEqual(
      parsed.manifests.map((m) => m.digest),
      [amd.digest, arm.digest],
    );
    assert.deepEqual(at(parsed.manifests, 1).platform, { architecture: 'arm64', os: 'linux', variant: 'v8' });
    assert.equal(idx.blobs.size, amd.blobs.size + arm.blobs.size);
  });

  test('the layer tar is valid for GNU tar: sorted, owner 0/0, mtime 0, parent directories', async () => {
    const dir = tempDir('tar');
    try {
      const file = join(dir, 'layer.tar');
      const long = `${'d'.repeat(60)}/${'e'.repeat(60)}/f.txt`; // > 100 bytes: needs the ustar prefix field
      writeFileSync(file, makeTar({ 'b.txt': 'bee', 'a/z.txt': 'zed', [long]: 'long' }));
      const res = await runCommand('tar', ['--list', '--verbose', '--numeric-owner', '--utc', '-f', file]);
      assert.equal(res.code, 0, res.stderr);
      const lines = res.stdout.trim().split('\n');
      assert.deepEqual(
        lines.map((l) => l.split(/\s+/).pop()),
        ['a/', 'a/z.txt', 'b.txt', `${'d'.repeat(60)}/`, `${'d'.repeat(60)}/${'e'.repeat(60)}/`, long],
      );
      for (const l of lines) assert.match(l, /^(drwxr-xr-x|-rw-r--r--) 0\/0 .* 1970-01-01 00:00 /);
      const x = await runCommand('tar', ['-xOf', file, 'a/z.txt']);
      assert.equal(x.stdout, 'zed');
    } finally {
      removeTempDir(dir);
    }
  });

  test('bad tar paths are refused', () => {
    for (const p of ['/abs', '../up', 'a//b', 'a/./b', '']) assert.throws(() => makeTar({ [p]: 'x' }), /bad path/);
  });

  test('a big image is streamed to a file, deterministic per seed', async () => {
    const dir = tempDir('bigimg');
    try {
      const a = await buildBigImage({ mib: 2, dir });
      const m = JSON.parse(a.bytes.toString()) as { layers: { digest: string; size: number }[] };
      const onDisk = readFileSync(a.layerFile);
      assert.equal(statSync(a.layerFile).size, at(m.layers, 0).size);
      assert.equal(`sha256:${createHash('sha256').update(onDisk).digest('hex')}`, at(m.layers, 0).digest);
      assert.ok(onDisk.length > 2 * 1024 * 1024);
      assert.deepEqual(a.blobs.get(at(m.layers, 0).digest), { file: a.layerFile, size: onDisk.length });
      assert.equal((await buildBigImage({ mib: 2, dir })).digest, a.digest);
      assert.notEqual((await buildBigImage({ mib: 2, dir, seed: 'other' })).digest, a.digest);
    } finally {
      removeTempDir(dir);
    }
  });
});

describe('process helpers', () => {
  test('a process that exits before it is ready fails with its exit code and log tail', async () => {
    await assert.rejects(
      startProcess({
        name: 'doomed',
        cmd: 'sh',
        args: ['-c', 'echo "fatal: bad config" >&2; exit 3'],
        ready: async () => false,
      }),
      (err: Error) =>
        /exited with 3 before it was ready/.test(err.message) && err.message.includes('fatal: bad config'),
    );
  });

  test('a process that never becomes ready times out with its log tail', async () => {
    await assert.rejects(
      startProcess({
        name: 'slow',
        cmd: 'sh',
        args: ['-c', 'echo still starting; sleep 30'],
        ready: async () => false,
        timeoutMs: 300,
      }),
      (err: Error) => /timed out after 300 ms/.test(err.message) && err.message.includes('still starting'),
    );
  });

  test('a missing binary is reported as such', async () => {
    await assert.rejects(
      startProcess({ name: 'ghost', cmd: 'sigward-no-such-binary' }),
      /could not be started: .*ENOENT/,
    );
  });

  test('stop() ends a process with SIGTERM, and with SIGKILL one that ignores SIGTERM', async () => {
    const dir = tempDir('stop');
    try {
      const started = (name: string, script: string) =>
        startProcess({
          name,
          cmd: 'sh',
          args: ['-c', script],
          dir,
          ready: async () => readFileSync(join(dir, `${name}.log`), 'utf8').includes('up'),
        });
      const polite = await started('polite', 'echo up; exec sleep 30');
      await polite.stop();
      assert.equal(polite.exit, 'SIGTERM');
      const stubborn = await started('stubborn', 'trap "" TERM; echo up; sleep 30; sleep 30');
      await stubborn.stop(200);
      assert.equal(stubborn.exit, 'SIGKILL');
      assert.match(stubborn.logTail(), /up/);
      await stubborn.stop(); // a second stop is harmless
    } finally {
      removeTempDir(dir);
    }
  });

  test('a process started without a dir logs to a temp dir that stop() removes', async () => {
    const p = await startProcess({ name: 'own-dir', cmd: 'sleep', args: ['30'], ready: async () => true });
    assert.ok(existsSync(p.logFile));
    assert.equal(p.exit, undefined);
    await p.stop();
    assert.equal(p.exit, 'SIGTERM');
    assert.ok(!existsSync(p.logFile));
  });

  test('freePort returns a port 127.0.0.1 can listen on', async () => {
    const port = await freePort();
    assert.ok(Number.isInteger(port) && port > 0 && port < 65536);
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('runCommand returns code and output, and kills a command that overruns', async () => {
    assert.deepEqual(await runCommand('sh', ['-c', 'echo out; echo err >&2; exit 7']), {
      code: 7,
      stdout: 'out\n',
      stderr: 'err\n',
    });
    const slow = await runCommand('sleep', ['30'], { timeoutMs: 100 });
    assert.notEqual(slow.code, 0);
    assert.match(slow.stderr, /killed after 100 ms/);
    await assert.rejects(runCommand('sigward-no-such-binary', []), /could not be run/);
  });

  test('tempDir makes a directory under the temp root and removeTempDir deletes it', () => {
    const dir = tempDir('unit');
    assert.ok(existsSync(dir) && statSync(dir).isDirectory());
    removeTempDir(dir);
    assert.ok(!existsSync(dir));
  });
});

describe('fixture accessors', () => {
  test('return what is there, falsy values included', () => {
    assert.equal(must(0, 'zero'), 0);
    assert.equal(at(['a', 'b'], 1), 'b');
    assert.equal(at(['a', 'b'], -1), 'b');
    assert.equal(at(Buffer.from([7, 0]), 1), 0);
    assert.equal(key({ x: '' }, 'x'), '');
    assert.equal(key(new Map([['m', 1]]), 'm'), 1);
  });
  test('throw naming what is missing', () => {
    assert.throws(() => must(undefined, 'the token server'), /test fixture missing: the token server/);
    assert.throws(() => must(null, 'x'), /missing: x/);
    assert.throws(() => at([1], 1, 'layers'), /missing: layers\[1\] \(length 1\)/);
    assert.throws(() => key<number>({ a: 1 }, 'b', 'images'), /missing: images\["b"\]/);
  });
});
