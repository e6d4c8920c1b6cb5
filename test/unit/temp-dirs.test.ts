// The test helpers' temp directories (test/helpers/proc.ts): each has an owner file beside it naming the process that
// made it, removed with it; a run killed outright (no exit handler) leaves both, and sweepStaleTempDirs() removes the
// directories whose owner is gone, and nothing else: not a live process's, not one without an owner file, not one
// whose owner file is unreadable, not anything that is not the helpers'. The benchmark sweeps at start, so a killed
// run's registries (tens of GiB) do not shrink the next run's free disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeTempDir, sweepStaleTempDirs, tempDir } from '../helpers/proc.ts';

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

test('a temp dir has an owner file with this pid beside it, and both go together', () => {
  const dir = tempDir('owner');
  assert.equal(readFileSync(`${dir}.owner`, 'utf8').trim(), String(process.pid));
  removeTempDir(dir);
  assert.equal(existsSync(dir), false);
  assert.equal(existsSync(`${dir}.owner`), false);
});

test('the sweep removes only the directories whose owner process is gone', () => {
  const root = mkdtempSync(join(tmpdir(), 'sweep-root-'));
  try {
    const make = (name: string, owner?: string): string => {
      const dir = join(root, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'data'), 'x');
      if (owner !== undefined) writeFileSync(`${dir}.owner`, owner);
      return dir;
    };
    const dead = deadPid();
    const gone = make('sigward-registry-gone', `${dead}\n`);
    const live = make('sigward-registry-live', `${process.pid}\n`);
    const unowned = make('sigward-bench-unowned');
    const garbled = make('sigward-bench-garbled', 'not a pid');
    const foreign = make('other-tool-dir', `${dead}\n`);
    assert.deepEqual(sweepStaleTempDirs(root), [gone]);
    assert.equal(existsSync(gone), false);
    assert.equal(existsSync(`${gone}.owner`), false);
    for (const kept of [live, unowned, garbled, foreign])
      assert.ok(existsSync(join(kept, 'data')), `${kept} was removed`);
    assert.deepEqual(sweepStaleTempDirs(root), [], 'a second sweep finds nothing');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
