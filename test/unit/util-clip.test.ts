// The one string clipper: its bound includes the marker, and its ASCII mode is what keeps CR/LF and non-ASCII out
// of reason phrases and header values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clip } from '../../src/util/clip.ts';

test('short text passes unchanged apart from the ASCII mapping', () => {
  assert.equal(clip('registry.test'), 'registry.test');
  assert.equal(clip('a\r\nb\u00e9\u{1f600}'), 'a??b???', 'CR, LF and each UTF-16 unit outside 0x20-0x7e become ?');
  assert.equal(clip('a\r\nb\u00e9', 80, { ascii: false }), 'a\r\nb\u00e9');
  assert.equal(clip('x'.repeat(80)), 'x'.repeat(80), 'exactly max is not cut');
});

test('cut text is at most max long, the marker included', () => {
  assert.equal(clip('x'.repeat(81)), `${'x'.repeat(79)}…`);
  assert.equal(clip('y'.repeat(300), 200).length, 200);
  assert.equal(clip('z'.repeat(101), 100, { marker: '...' }), `${'z'.repeat(97)}...`);
  assert.equal(clip('w'.repeat(130), 120, { marker: '' }), 'w'.repeat(120));
  assert.equal(clip('abcdef', 2, { marker: '...' }), '...', 'a marker longer than max is all that is left');
});

test('the ASCII mapping happens before the cut (a multi-unit character never splits into half a surrogate)', () => {
  assert.equal(clip(`${'a'.repeat(9)}\u{1f600}`, 10, { marker: '' }), `${'a'.repeat(9)}?`);
});
