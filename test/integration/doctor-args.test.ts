// sigward doctor's canary arguments: --pull-canary is read as an image reference (the reference grammar, the host one
// of sigward's upstreams), --canary-clients is a repeatable comma-separated list; a wrong one is exit 2 with what to
// fix, before anything is pulled.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { sigwardInProcess } from '../helpers/cli-process.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';

describe('doctor --pull-canary and --canary-clients', () => {
  const dir = tempDir('doctor-args');
  after(() => removeTempDir(dir));
  const config = join(dir, 'sigward.yaml');
  writeFileSync(
    config,
    stringify({ upstreams: [{ host: 'canary.test', url: 'http://127.0.0.1:9' }], policy: { default: 'deny' } }),
  );
  // An empty node: no runtime file anywhere under it.
  const root = join(dir, 'root');
  mkdirSync(root);
  const doctor = (...args: string[]) => sigwardInProcess(['doctor', '--config', config, '--root', root, ...args]);

  test('a reference the grammar refuses is exit 2, with the reason', async () => {
    for (const bad of ['canary.test/Upper/case:v1', 'canary.test/app:bad tag', 'canary.test/app@sha256:123']) {
      const r = await doctor('--pull-canary', bad);
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      assert.ok(r.stderr.includes(`--pull-canary ${JSON.stringify(bad)}: `), r.stderr);
    }
  });

  test('a host that is not an upstream is exit 2, naming the upstreams', async () => {
    const r = await doctor('--pull-canary', 'other.test/app:v1');
    assert.equal(r.code, 2);
    assert.ok(r.stderr.includes("other.test is not one of sigward's upstreams"), r.stderr);
    assert.ok(r.stderr.includes('(canary.test)'), r.stderr);
  });

  test('a valid canary on a node with nothing configured: exit 1, every named client skipped', async () => {
    const r = await doctor(
      '--pull-canary',
      'canary.test/canary/unsigned:v1',
      '--canary-clients',
      'ctr',
      '--canary-clients',
      'skopeo',
      '--json',
    );
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as {
      canary: { image: string; results: { client: string; outcome: string }[] };
    };
    assert.equal(report.canary.image, 'canary.test/canary/unsigned:v1');
    assert.deepEqual(
      report.canary.results.map((c) => [c.client, c.outcome]),
      [
        ['ctr', 'skipped'],
        ['skopeo', 'skipped'],
      ],
    );
    const unknown = await doctor('--pull-canary', 'canary.test/canary/unsigned:v1', '--canary-clients', 'ctr,crictl');
    assert.equal(unknown.code, 2);
    assert.ok(unknown.stderr.includes('unknown client "crictl"'), unknown.stderr);
  });
});
