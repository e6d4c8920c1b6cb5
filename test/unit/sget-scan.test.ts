// The sget store's files on disk. The start-up scan of tmp/: a download in progress elsewhere (a live process's pid in the name) is left
// alone; anything of a dead process, and anything named with this process's own pid, is from an earlier life and
// removed (in a container the daemon is pid 1 on every start, so its old files carry the live pid). Two commits of
// one digest keep one file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { scanStore } from '../../src/sget/scan.ts';
import { BlobStore } from '../../src/sget/store.ts';
import { createLogger } from '../../src/log.ts';
import type { Digest } from '../../src/oci/digest.ts';
import { removeTempDir, tempDir } from '../helpers/proc.ts';

test('tmp/ at start: files of this pid and of dead pids go, a live other process keeps its download', async () => {
  const dir = tempDir('sget-scan');
  try {
    const blobs = join(dir, 'blobs');
    const tmp = join(dir, 'tmp');
    mkdirSync(blobs);
    mkdirSync(tmp);
    const own = `${process.pid}-aaaaaaaaaaaaaaaa.part`;
    const parent = `${process.ppid}-bbbbbbbbbbbbbbbb.part`;
    const dead = `4194303-cccccccccccccccc.part`;
    for (const f of [own, parent, dead, 'junk']) writeFileSync(join(tmp, f), 'x');
    await scanStore(blobs, tmp, Buffer.alloc(32, 1));
    assert.deepEqual(readdirSync(tmp), [parent]);
  } finally {
    removeTempDir(dir);
  }
});

test('two downloads of one digest committed (sget and the blob cache): one file kept, the other removed, none left in tmp/', async () => {
  const dir = tempDir('sget-commit');
  try {
    const store = new BlobStore({ dir, capacity: 1024 * 1024, log: createLogger('silent') });
    await store.ready();
    const data = Buffer.from('the same bytes, downloaded twice\n');
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
    const first = store.tempFile();
    const second = store.tempFile();
    for (const f of [first, second]) writeFileSync(f, data, { mode: 0o400 });
    await store.commit(first, digest, data.length);
    await store.commit(second, digest, data.length);
    await store.flush();
    assert.deepEqual(readdirSync(join(dir, 'tmp')), []);
    assert.deepEqual(
      readdirSync(join(dir, 'blobs')).filter((f) => !f.endsWith('.seal')),
      [digest.replace(':', '-')],
    );
    assert.equal(store.usage.bytes, data.length, 'counted once');
    const got = await store.checkout(digest);
    assert.ok(got);
    await got.fh.close();
  } finally {
    removeTempDir(dir);
  }
});
