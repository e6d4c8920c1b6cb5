// The typed YAML reads: every problem collected with its path; numbers, sizes and durations share one shape
// (absent, unreadable, out of range, or the value), each with its own words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Problems, readDuration, readInt, readSize } from '../../src/util/yaml-reader.ts';

const range = { min: 1, max: 10_000 };

function read<T>(f: (v: unknown, path: string[], p: Problems, r: typeof range) => T, v: unknown): [T, string[]] {
  const p = new Problems();
  return [f(v, ['x'], p, range), p.list.map((e) => `${e.path}: ${e.message}`)];
}

test('absent values are undefined without a problem', () => {
  for (const f of [readInt, readSize, readDuration]) {
    assert.deepEqual(read(f, undefined), [undefined, []]);
    assert.deepEqual(read(f, null), [undefined, []]);
  }
});

test('whole numbers, sizes with units, durations with units', () => {
  assert.deepEqual(read(readInt, 42), [42, []]);
  assert.deepEqual(read(readSize, '4 KiB'), [4096, []]);
  assert.deepEqual(read(readSize, '1.5kb'), [1500, []]);
  assert.deepEqual(read(readSize, 512), [512, []]);
  assert.deepEqual(read(readDuration, '2s'), [2000, []]);
  assert.deepEqual(read(readDuration, 250), [250, []]);
});

test('unreadable values name what was expected', () => {
  assert.deepEqual(read(readInt, '3'), [undefined, ['x: must be a whole number, got string "3"']]);
  assert.deepEqual(read(readInt, 1.5), [undefined, ['x: must be a whole number, got number 1.5']]);
  assert.deepEqual(read(readSize, '4 parsecs'), [
    undefined,
    ['x: must be a size such as 4194304, "4MiB" or "10GiB", got string "4 parsecs"'],
  ]);
  assert.deepEqual(
    read(readSize, '1constructor'),
    [undefined, ['x: must be a size such as 4194304, "4MiB" or "10GiB", got string "1constructor"']],
    'only the listed units, not inherited names',
  );
  assert.deepEqual(read(readDuration, '3 days'), [
    undefined,
    ['x: must be a duration such as "500ms", "30s", "5m" or "1h", got string "3 days"'],
  ]);
});

test('out of range values say the range in their unit', () => {
  assert.deepEqual(read(readInt, 0), [undefined, ['x: must be between 1 and 10000, got 0']]);
  assert.deepEqual(read(readSize, '1MiB'), [undefined, ['x: must be between 1 and 10000 bytes, got 1048576']]);
  assert.deepEqual(read(readDuration, '1m'), [undefined, ['x: must be between 1ms and 10000ms, got 60000ms']]);
});
