// The per-upstream `blobs:` mode (relay, redirect, cache): parsed as written, absent by default (relay), and anything
// else is a problem naming the line, the field and the choices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/parse.ts';
import { must } from '../helpers/must.ts';

test('blobs: relay, redirect and cache are taken per upstream; absent means relay', () => {
  const r = parseConfigText(
    'upstreams:\n  - host: a.example\n    blobs: redirect\n  - host: b.example\n    blobs: cache\n  - host: c.example\n    blobs: relay\n  - host: d.example\n',
  );
  assert.deepEqual(r.problems, []);
  const ups = must(r.config, 'config').upstreams;
  assert.deepEqual(
    ups.map((u) => [u.host, u.blobs]),
    [
      ['a.example', 'redirect'],
      ['b.example', 'cache'],
      ['c.example', 'relay'],
      ['d.example', undefined],
    ],
  );
});

test('an unknown blobs mode is a problem with its line and the choices', () => {
  const r = parseConfigText('upstreams:\n  - host: a.example\n    blobs: follow\n');
  assert.equal(r.config, undefined);
  assert.deepEqual(
    r.problems.map((p) => [p.line, p.path, p.message]),
    [[3, 'upstreams[0].blobs', 'must be one of relay | redirect | cache, got string "follow"']],
  );
});
