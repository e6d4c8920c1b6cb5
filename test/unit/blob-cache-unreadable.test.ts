// A stored blob that cannot be read back (an I/O error on the store's disk) is a miss: the blob is relayed from the
// upstream as without the cache, never a failed pull. The store's read error is injected (fault injection).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreBlobCache } from '../../src/sget/blob-cache.ts';
import type { BlobStore } from '../../src/sget/store.ts';
import { SigwardError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import type { Digest } from '../../src/oci/digest.ts';

test('a stored copy that cannot be read back is a miss, counted and logged', async () => {
  const lines: string[] = [];
  const log = createLogger('warn', { write: (s: string) => void lines.push(s) });
  const store = {
    ready: () => Promise.resolve(),
    has: () => true,
    checkout: () => Promise.reject(new SigwardError('STORE_UNAVAILABLE', 'reading it back from the store: EIO')),
  } as unknown as BlobStore;
  const counted: string[] = [];
  const cache = new StoreBlobCache({
    store,
    maxBytes: 1024,
    log,
    observer: { hit: () => counted.push('hit'), miss: () => counted.push('miss'), evicted: () => undefined },
  });
  const digest = `sha256:${'1'.repeat(64)}` as Digest;
  assert.equal(await cache.serve(digest, 'GET', undefined), undefined);
  assert.deepEqual(counted, ['miss']);
  assert.ok(
    lines.some((l) => l.includes('stored copy unreadable; relaying')),
    lines.join(''),
  );
});
