// A policy's `identities:` as a user writes them (policy/identities.ts): Go RE2 patterns translated or refused with
// the reason Go would give, and every shape mistake (not a list, an item that is not a mapping, a bad name, an empty
// subject or issuer, a `github:` block that is not a mapping of strings) reported at its YAML path and line with a
// message that says what to write instead; nothing is compiled from an identity with a problem.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml, policySource } from '../../src/config/parse.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { compileRe2 } from '../../src/policy/identities.ts';
import type { CompiledPolicy, CompileDeps } from '../../src/policy/types.ts';
import type { Problems } from '../../src/util/yaml-reader.ts';
import { createTestCa, createTestSigstore } from '../helpers/test-sigstore.ts';

const NOW = new Date('2025-06-01T12:00:00Z');
const ca = createTestCa({ now: NOW });
const FILES: Readonly<Record<string, string>> = {
  '/roots/test.json': createTestSigstore({ now: NOW }).trustedRootJson,
  '/ca/roots.pem': ca.rootsPem,
};

function compile(text: string): { policy: CompiledPolicy | undefined; problems: Problems } {
  const { raw, problems } = parseYaml(text);
  assert.ok(problems.empty, `YAML itself must parse: ${JSON.stringify(problems.list)}`);
  const deps: CompileDeps = { readKeyFile: (p) => FILES[p] ?? new Error(`file not found: ${p}`) };
  return { policy: compilePolicy(policySource(raw), problems, deps), problems };
}

const HEAD = [
  'trust:', // 1
  '  roots:', // 2
  '    test: { trustedRoot: /roots/test.json }', // 3
  '  cas:', // 4
  '    corp: { roots: /ca/roots.pem }', // 5
  'policy:', // 6
  '  policies:', // 7
  '    - name: apps', // 8
  '      match: ["ghcr.io/acme/**"]', // 9
];

/** Every problem of a policy whose rule has `lines` after its match, as `line:path -> message`, sorted by line. */
function problemsWith(lines: readonly string[]): string[] {
  const { policy, problems } = compile([...HEAD, ...lines].join('\n'));
  assert.equal(policy, undefined, 'a document with problems compiles to nothing');
  return problems.list
    .map((p) => ({ ...p, path: p.path.replace('policy.policies[0].', '') }))
    .sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || a.path.localeCompare(b.path))
    .map((p) => `${p.line}:${p.path} -> ${p.message}`);
}

describe('compileRe2: Go RE2 syntax, translated or refused', () => {
  test('plain patterns compile as unicode regular expressions, unanchored', () => {
    const re = compileRe2('acme/app');
    assert.ok(re instanceof RegExp);
    assert.equal(re.flags, 'u');
    assert.ok(re.test('https://github.com/acme/app/.github/workflows/x.yml'));
  });

  test('a leading (?i) folds case; (?P<name>…) is Go for a named group', () => {
    const i = compileRe2('(?i)^ME@EXAMPLE\\.COM$');
    assert.ok(i instanceof RegExp);
    assert.equal(i.flags, 'iu');
    assert.ok(i.test('me@example.com'));
    const named = compileRe2('^https://github\\.com/(?P<org>[^/]+)/');
    assert.ok(named instanceof RegExp);
    assert.equal(named.exec('https://github.com/acme/app')?.groups?.['org'], 'acme');
  });

  const LOOK = 'lookahead and lookbehind are not RE2 syntax (Go would refuse this pattern)';
  const BACKREF = 'backreferences are not RE2 syntax (Go would refuse this pattern)';
  const FLAGS = 'inline flags are only accepted as a leading (?i)';
  for (const [pattern, why] of [
    ['^(?=admin)', LOOK],
    ['^(?!admin)', LOOK],
    ['(?<=@)example', LOOK],
    ['(?<!evil)@example', LOOK],
    ['(?i)(?=x)', LOOK],
    ['^(a)\\1$', BACKREF],
    ['^(?<n>a)\\k<n>$', BACKREF],
    ['(?P<n>a)\\k<n>', BACKREF],
    ['^me(?i)@x$', FLAGS],
    ['(?s).*', FLAGS],
    ['(?i)(?m)^x', FLAGS],
    ['(?U:a+)', FLAGS],
    ['(?-i)x', FLAGS],
  ] as const) {
    test(`${JSON.stringify(pattern)} -> ${why}`, () => {
      assert.equal(compileRe2(pattern), why);
    });
  }

  test('a pattern JavaScript cannot compile: the engine message, after "is not a valid regular expression"', () => {
    for (const pattern of ['[', 'a{2,1}', '(', '\\']) {
      const r = compileRe2(pattern);
      assert.equal(typeof r, 'string', pattern);
      assert.match(String(r), /^is not a valid regular expression: Invalid regular expression: /);
    }
  });
});

describe('identities: shape mistakes, each with its path and line', () => {
  // A rule whose identities are unusable names no signer at all: that is reported at the rule as well.
  const NO_SIGNERS =
    '8:keys -> is required: the names of trust.keys entries whose signature this policy accepts, or `identities:` ' +
    'for certificate (keyless) signatures (or use `allow: unsigned` / `reject: true`)';

  test('not a list (a mapping, a string) -> says it must be a list, with an example', () => {
    const list =
      'must be a list of identities, e.g. [{ issuer: "https://accounts.google.com", subject: "me@example.com" }]';
    assert.deepEqual(problemsWith(['      identities: { subject: me@example.com, issuer: https://x.test }']), [
      NO_SIGNERS,
      `10:identities -> ${list}`,
    ]);
    assert.deepEqual(problemsWith(['      identities: me@example.com']), [NO_SIGNERS, `10:identities -> ${list}`]);
  });

  test('an empty list, or `identities:` with no value: no signers, said at the rule', () => {
    assert.deepEqual(problemsWith(['      identities: []']), [NO_SIGNERS]);
    assert.deepEqual(problemsWith(['      identities:']), [NO_SIGNERS]);
  });

  test('an item that is not a mapping: null, a string, a list', () => {
    assert.deepEqual(
      problemsWith([
        '      identities:', // 10
        '        -', // 11
        '        - me@example.com', // 12
        '        - [me@example.com, https://accounts.google.com]', // 13
        '        - { name: ok, subject: me@example.com, issuer: https://accounts.google.com }', // 14
      ]),
      [
        '11:identities[0] -> must be a mapping with `subject` (or `subjectRegExp`) and `issuer`',
        '12:identities[1] -> must be a mapping, got string "me@example.com"',
        '13:identities[2] -> must be a mapping, got a list',
      ],
    );
  });

  test('names: not 1-64 plain characters, not a string; the default name follows the list position', () => {
    const rule = (name: string): string =>
      `        - { name: ${name}, subject: me@example.com, issuer: https://accounts.google.com }`;
    const shape = (n: string): string =>
      `"${n}" must be 1-64 characters of A-Z a-z 0-9 . _ - (starting with a letter or digit)`;
    assert.deepEqual(
      problemsWith([
        '      identities:', // 10
        rule('"-lead"'), // 11
        rule('"release team"'), // 12
        rule(`"${'x'.repeat(65)}"`), // 13
        rule('"ünïcode"'), // 14
        rule('42'), // 15
        rule('[a]'), // 16
      ]),
      [
        `11:identities[0].name -> ${shape('-lead')}`,
        `12:identities[1].name -> ${shape('release team')}`,
        `13:identities[2].name -> ${shape('x'.repeat(65))}`,
        `14:identities[3].name -> ${shape('ünïcode')}`,
        '15:identities[4].name -> must be a string, got number 42',
        '16:identities[5].name -> must be a string, got a list',
      ],
    );
    // A name that failed to read falls back to identity-<n>, which another identity may not take.
    assert.deepEqual(
      problemsWith([
        '      identities:', // 10
        rule('[a]'), // 11
        rule('identity-1'), // 12
      ]),
      [
        '11:identities[0].name -> must be a string, got a list',
        '12:identities[1].name -> "identity-1" is already the name of another identity of this policy',
      ],
    );
  });

  test('subject and issuer: empty, not strings, both forms at once', () => {
    assert.deepEqual(
      problemsWith([
        '      identities:', // 10
        '        - { name: a, subject: "", issuer: https://accounts.google.com }', // 11
        '        - { name: b, subject: me@example.com, issuer: "" }', // 12
        '        - { name: c, subject: 42, issuer: https://accounts.google.com }', // 13
        '        - { name: d, subjectRegExp: [x], issuer: https://accounts.google.com }', // 14
        '        - { name: e, subject: me@example.com, issuer: https://x.test, issuerRegExp: "^https://x" }', // 15
        '        - { name: f, subject: me@example.com, issuerRegExp: "(?=x)" }', // 16
      ]),
      [
        '11:identities[0].subject -> must not be empty',
        '12:identities[1].issuer -> must not be empty',
        '13:identities[2].subject -> must be a string, got number 42',
        '14:identities[3].subjectRegExp -> must be a string, got a list',
        '15:identities[4] -> set `issuer` or `issuerRegExp`, not both',
        '16:identities[5].issuerRegExp -> "(?=x)": lookahead and lookbehind are not RE2 syntax (Go would refuse this pattern)',
      ],
    );
  });

  test('unknown keys are named with the keys allowed', () => {
    assert.deepEqual(
      problemsWith(['      identities:', '        - { subject: me@example.com, issuer: https://x.test, email: me }']),
      [
        "11:identities[0].email -> unknown key 'email' (allowed here: name, subject, subjectRegExp, issuer, issuerRegExp, github, ca)",
      ],
    );
  });

  test('`ca:` not a string, or naming no CA; `ca:` and no trust roots needs no issuer', () => {
    assert.deepEqual(
      problemsWith([
        '      identities:', // 10
        '        - { name: a, subject: ci@example.com, ca: [corp] }', // 11
        '        - { name: b, subject: ci@example.com, ca: test }', // 12
      ]),
      [
        '11:identities[0] -> needs `issuer` (the OIDC issuer, e.g. https://token.actions.githubusercontent.com) or ' +
          '`issuerRegExp`: a keyless identity without its issuer would accept anyone who can get that name from any ' +
          'provider',
        '11:identities[0].ca -> must be a string, got a list',
        '12:identities[1].ca -> no CA named "test" under trust.cas (declared: corp)',
      ],
    );
  });

  test('github: not a mapping, a claim not a string, an unknown claim', () => {
    const id = (github: string): string =>
      `        - { name: x${github.length}, subject: me@example.com, issuer: https://x.test, github: ${github} }`;
    assert.deepEqual(
      problemsWith([
        '      identities:', // 10
        id('acme/app'), // 11
        id('[acme/app]'), // 12
        id('{ repository: [acme/app] }'), // 13
        id('{ ref: 7, sha: abc }'), // 14
        id('{ workflow: release }'), // 15
      ]),
      [
        '11:identities[0].github -> must be a mapping, got string "acme/app"',
        '12:identities[1].github -> must be a mapping, got a list',
        '13:identities[2].github.repository -> must be a string, got a list',
        '14:identities[3].github.ref -> must be a string, got number 7',
        "15:identities[4].github.workflow -> unknown key 'workflow' (allowed here: trigger, sha, name, repository, ref)",
      ],
    );
  });

  test('`github:` empty (null) is no claims; the identity compiles', () => {
    const { policy, problems } = compile(
      [...HEAD, '      identities:', '        - { subject: me@example.com, issuer: https://x.test, github: }'].join(
        '\n',
      ),
    );
    assert.deepEqual(problems.list, []);
    const rule = policy?.rules[0];
    assert.ok(rule?.kind === 'signed');
    assert.deepEqual(rule.identities[0]?.github, {});
    assert.equal(rule.identities[0]?.name, 'identity-1');
  });
});
