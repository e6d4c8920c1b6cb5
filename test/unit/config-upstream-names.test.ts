// The two upstream checks shared by the loader and the upstream layer: a registry name (host or alias) belongs to
// one upstream only, and a caFile holds a PEM certificate. Both are reported with their YAML line by the loader and
// refused by the upstream layer when handed a config that skipped it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caPemProblem } from '../../src/config/ca-pem.ts';
import { loadConfig } from '../../src/config/load.ts';
import { parseConfigText } from '../../src/config/parse.ts';
import { duplicateUpstreamNames, upstreamNames } from '../../src/config/upstream-names.ts';
import { isSigwardError } from '../../src/errors.ts';

test('names are host and aliases, lowercased; a clash names both upstreams, a repeat within one is harmless', () => {
  assert.deepEqual(upstreamNames({ host: 'A.example', aliases: ['Mirror.a.example'] }), [
    'a.example',
    'mirror.a.example',
  ]);
  const a = { host: 'a.example', aliases: ['a.example'] };
  const b = { host: 'b.example', aliases: ['A.EXAMPLE'] };
  assert.deepEqual(duplicateUpstreamNames([a]), []);
  assert.deepEqual(
    duplicateUpstreamNames([a, undefined, b]),
    [{ name: 'a.example', previous: 0, index: 2 }],
    'indexes are list positions',
  );
});

test('the parser reports a clash on the second upstream, with its line', () => {
  const r = parseConfigText('upstreams:\n  - host: a.example\n  - host: b.example\n    aliases: [a.example]\n');
  assert.deepEqual(
    r.problems.map((p) => [p.line, p.path, p.message]),
    [[3, 'upstreams[1].host', 'host name a.example is already used by upstreams[0]']],
  );
});

test('a caFile without a PEM certificate is a problem at its line', () => {
  assert.equal(caPemProblem('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'), undefined);
  assert.match(caPemProblem('not a pem') ?? '', /no PEM certificate/);
  const dir = mkdtempSync(join(tmpdir(), 'sigward-ca-'));
  try {
    writeFileSync(join(dir, 'ca.pem'), 'not a certificate\n');
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'upstreams:\n  - host: a.example\n    caFile: ca.pem\n');
    assert.throws(
      () => loadConfig(file, {}),
      (e: unknown) =>
        isSigwardError(e, 'CONFIG_INVALID') &&
        /c\.yaml:3: upstreams\[0\]\.caFile: holds no PEM certificate/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
