// sigward doctor on a node whose docker daemon.json has registry-mirrors naming sigward: a bypass (docker falls back
// to Docker Hub when the mirror refuses), and the fix it prints is what enforces, never the registry-mirrors setting
// that `sigward client-config docker` prints for caching.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { sigwardInProcess } from '../helpers/cli-process.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';

const dir = tempDir('doctor-docker-fix');
after(() => removeTempDir(dir));

test('the docker mirror bypass: the fix removes the mirror and addresses images through sigward', async () => {
  const config = join(dir, 'sigward.yaml');
  writeFileSync(
    config,
    stringify({
      listen: '127.0.0.1:5050',
      upstreams: [{ host: 'docker.io', default: true }],
      policy: { default: 'deny' },
    }),
  );
  const root = join(dir, 'root');
  mkdirSync(join(root, 'etc', 'docker'), { recursive: true });
  writeFileSync(
    join(root, 'etc', 'docker', 'daemon.json'),
    JSON.stringify({ 'registry-mirrors': ['http://127.0.0.1:5050'] }),
  );
  const r = await sigwardInProcess(['doctor', '--config', config, '--root', root, '--json']);
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout) as {
    findings: { runtime: string; registry: string | null; status: string; fix: string | null }[];
  };
  const docker = report.findings.filter((f) => f.runtime === 'docker');
  assert.deepEqual(
    docker.map((f) => [f.registry, f.status]),
    [['docker.io', 'bypass']],
  );
  const fix = docker[0]?.fix ?? '';
  assert.ok(!fix.includes('"registry-mirrors": ['), `the fix must not be the bypass itself:\n${fix}`);
  assert.ok(fix.includes('remove "registry-mirrors" from /etc/docker/daemon.json'), fix);
  assert.ok(fix.includes('docker pull 127.0.0.1:5050/docker.io/REPO:TAG'), fix);
});
