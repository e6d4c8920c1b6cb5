// `failStatic` on an upstream and `cache.stateSize`: off and 256 MiB by default, read with units, and bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/parse.ts';
import { must } from '../helpers/must.ts';

test('failStatic is off unless set; stateSize defaults to 256 MiB', () => {
  const { config, problems } = parseConfigText('upstreams: [{host: ghcr.io}]');
  assert.deepEqual(problems, []);
  const c = must(config, 'config');
  assert.equal(c.upstreams[0]?.failStaticMs, undefined);
  assert.equal(c.cache.stateBytes, 256 * 1024 * 1024);
});

test('failStatic and stateSize are read with their units', () => {
  const { config, problems } = parseConfigText(
    'upstreams: [{host: ghcr.io, failStatic: 24h}, {host: quay.io, failStatic: 168h}]\ncache: {stateSize: 0}',
  );
  assert.deepEqual(problems, []);
  const c = must(config, 'config');
  assert.deepEqual(
    c.upstreams.map((u) => u.failStaticMs),
    [24 * 3_600_000, 7 * 24 * 3_600_000],
  );
  assert.equal(c.cache.stateBytes, 0);
});

test('a window over 168h (7 days) or under a minute is a problem naming the field', () => {
  const { config, problems } = parseConfigText(
    'upstreams:\n  - host: ghcr.io\n    failStatic: 169h\n  - host: quay.io\n    failStatic: 10s',
  );
  assert.equal(config, undefined);
  assert.deepEqual(
    problems.map((p) => [p.path, p.line]),
    [
      ['upstreams[0].failStatic', 3],
      ['upstreams[1].failStatic', 5],
    ],
  );
});
