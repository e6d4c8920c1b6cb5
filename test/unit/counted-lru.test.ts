// CountedLru: bounded by entries (least recently used evicted first) without lru-cache's preallocated `max`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CountedLru } from '../../src/util/counted-lru.ts';

test('holds at most `entries`, evicting the least recently used with reason evict', () => {
  const evicted: string[] = [];
  const c = new CountedLru<string, number>(3, { dispose: (_v, k, why) => why === 'evict' && evicted.push(k) });
  for (const k of ['a', 'b', 'c']) c.set(k, 1);
  assert.equal(c.get('a'), 1); // a is now the most recent
  c.set('d', 1);
  assert.deepEqual([...c.keys()].sort(), ['a', 'c', 'd']);
  assert.deepEqual(evicted, ['b']);
  // Replacing a held key evicts nothing.
  c.set('c', 2);
  assert.equal(c.size, 3);
  assert.deepEqual(evicted, ['b']);
  // lru-cache's own (preallocating) bound is not used.
  assert.equal(c.max, 0);
});

test('with a byte bound, both bounds hold', () => {
  const c = new CountedLru<string, string>(10, { maxSize: 12, sizeCalculation: (v) => v.length });
  for (const k of ['a', 'b', 'c', 'd']) c.set(k, 'xxxx');
  assert.equal(c.size, 3, 'the byte bound: 3 x 4 bytes');
  const d = new CountedLru<string, string>(2, { maxSize: 1000, sizeCalculation: (v) => v.length });
  for (const k of ['a', 'b', 'c']) d.set(k, 'x');
  assert.deepEqual([...d.keys()].sort(), ['b', 'c'], 'the entry bound');
});
