// `sigward reload --config FILE` when the daemon does not listen where FILE's `listen` says (started with --listen,
// or `listen` changed in the file since it started, which takes a restart): the local `sigward serve` running FILE
// is found wherever it listens and reloaded; with two of them neither is picked; with no such daemon the message
// says what to give. The real daemon
// process in front of a real distribution registry.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startRegistry, type Registry } from '../helpers/registry.ts';
import { startSigwardProcess, type RunningSigward } from '../helpers/sigward.ts';
import { sigwardInProcess } from '../helpers/cli-process.ts';
import { freePort, removeTempDir, startProcess, tailFile, tempDir } from '../helpers/proc.ts';
import type { ReadinessReport, ReloadStatus } from '../../src/http/readiness.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

describe('sigward reload --config finds the daemon running that file', () => {
  let reg: Registry;
  let sw: RunningSigward;
  let filePort: number;
  const dir = tempDir('reload-find');

  const config = (port: number, level: string) => ({
    listen: `127.0.0.1:${port}`,
    log: { level },
    upstreams: [{ host: 'example.test', url: reg.url, default: true }],
    policy: { default: 'allow' },
    cache: { dir: join(dir, 'cache') },
  });
  const readyz = async (): Promise<ReadinessReport & { reload: ReloadStatus }> =>
    (await (await fetch(`${sw.url}/readyz`)).json()) as ReadinessReport & { reload: ReloadStatus };

  before(async () => {
    reg = await startRegistry();
    filePort = await freePort();
    // The helper starts it with --listen 127.0.0.1:0: it never listens on the file's address.
    sw = await startSigwardProcess(config(filePort, 'info'));
  });
  after(async () => {
    await sw?.stop();
    await reg?.stop();
    removeTempDir(dir);
  });

  test('a daemon started with --listen is found by its config file and reloaded', async () => {
    const generation = (await readyz()).config?.generation ?? 0;
    writeFileSync(sw.configFile, stringify(config(filePort, 'debug')));
    const r = await sigwardInProcess(['reload', '--config', sw.configFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^reloaded: generation ${generation + 1}, policy [0-9a-f]{12}`));
    assert.ok(r.stderr.includes(`listens on ${sw.url}, not on the file's listen address http://127.0.0.1:${filePort}`));
    assert.equal((await readyz()).config?.generation, generation + 1);
  });

  test('a listen changed in the file since the start: the daemon is still found; the change needs a restart', async () => {
    // This daemon takes its address from the file (no --listen), as the systemd unit starts it.
    const port = await freePort();
    const file = join(dir, 'from-file.yaml');
    writeFileSync(file, stringify(config(port, 'info')));
    const proc = await startProcess({
      name: 'sigward-file-listen',
      cmd: process.execPath,
      args: [join(ROOT, 'bin/sigward.mjs'), 'serve', '--config', file],
      cwd: ROOT,
      dir,
      ready: async () => Promise.resolve(tailFile(join(dir, 'sigward-file-listen.log'), 20).includes('listening on')),
    });
    try {
      const moved = await freePort();
      writeFileSync(file, stringify(config(moved, 'info')));
      const r = await sigwardInProcess(['reload', '--config', file]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stderr.includes(`listens on http://127.0.0.1:${port}, not on the file's listen address`), r.stderr);
      assert.match(r.stderr, /need a restart to apply \(their old values stay in force\): listen\n$/);
    } finally {
      await proc.stop();
    }
  });

  test('two daemons run the file: neither is picked; exit 2 naming both, and the message says to give --url', async () => {
    const first = (await readyz()).reload.pid;
    const second = await startProcess({
      name: 'sigward-second',
      cmd: process.execPath,
      args: [join(ROOT, 'bin/sigward.mjs'), 'serve', '--config', sw.configFile, '--listen', '127.0.0.1:0'],
      cwd: ROOT,
      dir,
      ready: async () => Promise.resolve(tailFile(join(dir, 'sigward-second.log'), 20).includes('listening on')),
    });
    try {
      const generation = (await readyz()).config?.generation;
      const r = await sigwardInProcess(['reload', '--config', sw.configFile]);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.includes(`2 local sigward serve processes run ${sw.configFile}`), r.stderr);
      assert.ok(r.stderr.includes(`pid ${first} on ${sw.url}`), r.stderr);
      assert.ok(r.stderr.includes(`pid ${second.pid} on http://127.0.0.1:`), r.stderr);
      assert.ok(r.stderr.includes('--url http://HOST:PORT'), r.stderr);
      assert.equal((await readyz()).config?.generation, generation, 'nothing was reloaded');
    } finally {
      await second.stop();
    }
  });

  test('no daemon runs the file: exit 2, and the message says to give --url', async () => {
    const lonely = join(dir, 'lonely.yaml');
    const port = await freePort();
    writeFileSync(lonely, stringify(config(port, 'info')));
    const r = await sigwardInProcess(['reload', '--config', lonely]);
    assert.equal(r.code, 2);
    assert.ok(r.stderr.includes(`no sigward daemon answers at http://127.0.0.1:${port}/readyz`), r.stderr);
    assert.ok(r.stderr.includes(`give it: sigward reload --config ${lonely} --url http://HOST:PORT`), r.stderr);
  });
});
