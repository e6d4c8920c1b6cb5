// The README's policy section documents how partial globs rank (more literal characters wins; equally many is a tie
// that check-config refuses), and its two examples behave as it says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseYaml, policySource } from '../../src/config/parse.ts';
import { compilePolicy } from '../../src/policy/compile.ts';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

function compileTwo(a: string, b: string): NonNullable<ReturnType<typeof compilePolicy>> | string {
  const { raw, problems } = parseYaml(
    `policy:\n  policies:\n    - { name: one, match: ["${a}"], allow: unsigned }\n    - { name: two, match: ["${b}"], allow: unsigned }\n`,
  );
  assert.ok(problems.empty, JSON.stringify(problems.list));
  const policy = compilePolicy(policySource(raw), problems, { readKeyFile: () => new Error('no keys here') });
  return policy ?? problems.list.map((p) => p.message).join('\n');
}

test('the README states the partial-glob rule in its policy section', () => {
  const section = README.slice(README.indexOf('## Signature policy'), README.indexOf('### Keyless and certificate'));
  assert.match(section, /\*\*Partial globs rank by their literal characters\*\*/);
  assert.match(section, /more characters other than `\*` wins/);
  assert.ok(section.includes('`ghcr.io/acme/app-web-*` (8 literal characters) beats `ghcr.io/acme/app-*` (4)'));
  assert.ok(section.includes('`ghcr.io/acme/app-*` and `ghcr.io/acme/*-web` (4 each)'));
});

test('example 1: ghcr.io/acme/app-web-* beats ghcr.io/acme/app-* for ghcr.io/acme/app-web-1, in either order', () => {
  for (const [a, b, winner] of [
    ['ghcr.io/acme/app-*', 'ghcr.io/acme/app-web-*', 'two'],
    ['ghcr.io/acme/app-web-*', 'ghcr.io/acme/app-*', 'one'],
  ] as const) {
    const policy = compileTwo(a, b);
    assert.ok(typeof policy !== 'string', policy as string);
    const r = policy.resolve('ghcr.io', 'acme/app-web-1');
    assert.equal(r.rule?.name, winner);
    assert.equal(r.matchedPattern, 'ghcr.io/acme/app-web-*');
    assert.equal(policy.resolve('ghcr.io', 'acme/app-1').matchedPattern, 'ghcr.io/acme/app-*');
  }
});

test('example 2: ghcr.io/acme/app-* and ghcr.io/acme/*-web in two policies are refused as equally specific', () => {
  const refused = compileTwo('ghcr.io/acme/app-*', 'ghcr.io/acme/*-web');
  assert.equal(typeof refused, 'string');
  assert.match(refused as string, /equally specific and both match names such as/);
});
