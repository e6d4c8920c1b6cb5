// parseStrictJson answers through JSON.parse when that provably gives what the strict reader gives (no backslash, no
// duplicate key, nesting within the limit) and asks the reader otherwise. Whatever the text, the two must answer
// the same: the same value, or the same problem.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseStrictJson, parseStrictJsonByHand } from '../../src/oci/json-strict.ts';

const SEED = 20261201;

function same(text: string): void {
  assert.deepEqual(parseStrictJson(text), parseStrictJsonByHand(text), `text: ${JSON.stringify(text).slice(0, 300)}`);
  const bytes = new TextEncoder().encode(text);
  assert.deepEqual(parseStrictJson(bytes), parseStrictJsonByHand(text));
}

const nested = (depth: number, inner: string): string => '['.repeat(depth) + inner + ']'.repeat(depth);

describe('parseStrictJson: the JSON.parse shortcut answers as the strict reader does', () => {
  test('generated JSON, compact and indented', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(undefined, 0, 1, 3, '\t'), (v, indent) =>
        same(JSON.stringify(v, null, indent)),
      ),
      { seed: SEED, numRuns: 400 },
    );
  });

  test('generated text, JSON or not', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-composite' }), (s) => same(s)),
      { seed: SEED, numRuns: 400 },
    );
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', ':', ',', 'a', '1', ' ', '\\', 'u') }),
        (s) => same(s),
      ),
      {
        seed: SEED,
        numRuns: 1000,
      },
    );
  });

  test('duplicate keys, plain and escaped, at every level', () => {
    for (const text of [
      '{"a":1,"a":2}',
      '{"a":1,"\\u0061":2}',
      '{"x":{"a":1,"b":2,"a":3}}',
      '{"layers":[{"digest":"d","digest":"e"}]}',
      '{"__proto__":1,"__proto__":2}',
      '{"__proto__":{"a":1}}',
      '{"a":"b:c","d":[":",":"]}',
      '{"a" : 1 , "b" :2}',
    ]) {
      same(text);
    }
  });

  test('nesting at and past the limit', () => {
    for (const depth of [63, 64, 65, 66, 70]) {
      same(nested(depth, ''));
      same(nested(depth, '1'));
      same(nested(depth, '{}'));
      same(nested(depth, '{"a":1}'));
    }
  });

  test('escapes, surrogates, control characters, a byte-order mark, trailing data', () => {
    for (const text of [
      '"\\ud800"',
      '"\\ud83d\\ude00"',
      '"a\\/b"',
      '"\u0001"',
      '\ufeff{}',
      '{} x',
      '{}\n',
      ' 1 ',
      '-0',
      '1e400',
      '01',
      '',
    ]) {
      same(text);
    }
  });
});
