// The shape of `trust:` and `policy.policies` entries as a user may get it wrong (policy/trust.ts, authorities.ts,
// parse.ts): a section that is not a mapping or a list, an entry with no value, a rule with no name or no `match`, a
// malformed `signatureRepository` or `annotations` block. Each is reported once, at its YAML path and line, with a
// message that says what belongs there; nothing compiles from a document with a problem. A right signatureRepository
// compiles to its canonical host and repository.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { parseYaml, policySource } from '../../src/config/parse.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import type { CompiledPolicy, CompileDeps } from '../../src/policy/types.ts';
import type { Problems } from '../../src/util/yaml-reader.ts';

const FILES: Readonly<Record<string, string>> = {
  '/k/release.pub': generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
    type: 'spki',
    format: 'pem',
  }) as string,
};

function compile(text: string): { policy: CompiledPolicy | undefined; problems: Problems } {
  const { raw, problems } = parseYaml(text);
  assert.ok(problems.empty, `YAML itself must parse: ${JSON.stringify(problems.list)}`);
  const deps: CompileDeps = { readKeyFile: (p) => FILES[p] ?? new Error(`file not found: ${p}`) };
  return { policy: compilePolicy(policySource(raw), problems, deps), problems };
}

/** Every problem of a document that must not compile, as `line:path -> message`, in line order. */
function problemsOf(lines: readonly string[]): string[] {
  const { policy, problems } = compile(lines.join('\n'));
  assert.equal(policy, undefined, 'a document with problems compiles to nothing');
  return problems.list
    .sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || a.path.localeCompare(b.path))
    .map((p) => `${p.line}:${p.path} -> ${p.message}`);
}

const KEY = ['trust:', '  keys:', '    release: { file: /k/release.pub }']; // lines 1-3
/** KEY and one rule `apps` (lines 1-7), with `lines` after it (from line 8). */
const apps = (...lines: string[]): string[] => [
  ...KEY,
  'policy:', // 4
  '  policies:', // 5
  '    - name: apps', // 6
  '      match: ["ghcr.io/a/*"]', // 7
  ...lines,
];
const NAME_SHAPE = 'must be 1-64 characters of A-Z a-z 0-9 . _ - (starting with a letter or digit)';

describe('trust: sections and entries of the wrong shape', () => {
  test('trust.keys a list or a string -> must be a mapping of key name to { file } or { pem }', () => {
    for (const keys of ['[/k/release.pub]', '/k/release.pub']) {
      assert.deepEqual(problemsOf(['trust:', `  keys: ${keys}`]), [
        '2:trust.keys -> must be a mapping of key name to { file } or { pem }',
      ]);
    }
  });

  test('a key with no value, or a bare path -> says to give `file` or `pem`', () => {
    assert.deepEqual(
      problemsOf([
        'trust:', // 1
        '  keys:', // 2
        '    release:', // 3
        '    ci: /k/release.pub', // 4
      ]),
      [
        '3:trust.keys.release -> needs `file` (a PEM public key file, e.g. cosign.pub) or `pem` (the PEM text)',
        '4:trust.keys.ci -> must be a mapping, got string "/k/release.pub"',
      ],
    );
  });

  test('`pem:` that is not a string: reported once, at `pem`', () => {
    assert.deepEqual(problemsOf(['trust:', '  keys:', '    release: { pem: 42 }']), [
      '3:trust.keys.release.pem -> must be a string, got number 42',
    ]);
  });

  test('trust.roots and trust.cas a list -> must be a mapping of name to what each needs', () => {
    assert.deepEqual(
      problemsOf([
        'trust:', // 1
        '  roots: [/roots/test.json]', // 2
        '  cas: /ca/roots.pem', // 3
      ]),
      [
        '2:trust.roots -> must be a mapping of trust root name to { trustedRoot }',
        '3:trust.cas -> must be a mapping of CA name to { roots, intermediates }',
      ],
    );
  });
});

describe('policy.policies: rules of the wrong shape', () => {
  test('a rule with no value, or a string -> must be a mapping with at least `name` and `match`', () => {
    assert.deepEqual(
      problemsOf([
        'policy:', // 1
        '  policies:', // 2
        '    -', // 3
        '    - apps', // 4
      ]),
      [
        '3:policy.policies[0] -> must be a mapping with at least `name` and `match`',
        '4:policy.policies[1] -> must be a mapping, got string "apps"',
      ],
    );
  });

  test('rule names: missing, not plain characters, not a string', () => {
    assert.deepEqual(
      problemsOf([
        ...KEY,
        'policy:', // 4
        '  policies:', // 5
        '    - match: ["ghcr.io/a/*"]', // 6
        '      keys: [release]', // 7
        '    - name: "my apps"', // 8
        '      match: ["ghcr.io/b/*"]', // 9
        '      keys: [release]', // 10
        '    - name: [apps]', // 11
        '      match: ["ghcr.io/c/*"]', // 12
        '      keys: [release]', // 13
      ]),
      [
        '6:policy.policies[0].name -> is required: a short name shown in logs and denial messages',
        `8:policy.policies[1].name -> "my apps" ${NAME_SHAPE}`,
        '11:policy.policies[2].name -> must be a string, got a list',
      ],
    );
  });

  test('match: missing, empty, not a list, entries that are not strings', () => {
    const required = 'is required: a list of <host>/<repository> globs, e.g. ["ghcr.io/acme/**"]';
    assert.deepEqual(
      problemsOf([
        ...KEY,
        'policy:', // 4
        '  policies:', // 5
        '    - { name: a, keys: [release] }', // 6
        '    - { name: b, keys: [release], match: [] }', // 7
        '    - { name: c, keys: [release], match: }', // 8
        '    - { name: d, keys: [release], match: "ghcr.io/d/*" }', // 9
        '    - { name: e, keys: [release], match: [7, "ghcr.io/e/*"] }', // 10
      ]),
      [
        `6:policy.policies[0].match -> ${required}`,
        `7:policy.policies[1].match -> ${required}`,
        `8:policy.policies[2].match -> ${required}`,
        '9:policy.policies[3].match -> must be a list, got string "ghcr.io/d/*"',
        '10:policy.policies[4].match[0] -> must be a string, got number 7',
      ],
    );
  });

  test('keys and required entries that are not strings are reported and skipped', () => {
    assert.deepEqual(problemsOf(apps('      keys: [release, { name: ci }]', '      required: [[release]]')), [
      '8:policy.policies[0].keys[1] -> must be a string, got a mapping',
      '9:policy.policies[0].required[0] -> must be a string, got a list',
    ]);
  });

  test('annotations: a list or a string -> must be a mapping of annotation name to value', () => {
    for (const annotations of ['[env=prod]', 'env=prod']) {
      assert.deepEqual(problemsOf(apps('      keys: [release]', `      annotations: ${annotations}`)), [
        '9:policy.policies[0].annotations -> must be a mapping of annotation name to required string value, e.g. ' +
          '{ env: prod }',
      ]);
    }
  });

  test('signatureRepository: not <registry host>/<repository>', () => {
    const rule = (repo: string): string[] => apps('      keys: [release]', `      signatureRepository: ${repo}`);
    for (const repo of ['signatures', '/acme/signatures', 'ghcr.io/', 'ghcr.io/Acme/Signatures', 'acme/signatures']) {
      assert.deepEqual(
        problemsOf(rule(JSON.stringify(repo))),
        [
          '9:policy.policies[0].signatureRepository -> must be <registry host>/<repository> such as ' +
            `ghcr.io/acme/signatures, got ${JSON.stringify(repo)}`,
        ],
        repo,
      );
    }
    assert.deepEqual(problemsOf(rule('[ghcr.io/acme/signatures]')), [
      '9:policy.policies[0].signatureRepository -> must be a string, got a list',
    ]);
  });

  test('signatureRepository right: host and repository, Docker Hub names as Docker writes them', () => {
    const repoOf = (repo: string): unknown => {
      const { policy, problems } = compile(
        apps('      keys: [release]', `      signatureRepository: ${repo}`).join('\n'),
      );
      assert.deepEqual(problems.list, []);
      const rule = policy?.rules[0];
      assert.ok(rule?.kind === 'signed');
      return rule.signatureRepository;
    };
    assert.deepEqual(repoOf('ghcr.io/acme/signatures'), { host: 'ghcr.io', repository: 'acme/signatures' });
    assert.deepEqual(repoOf('index.docker.io/signatures'), { host: 'docker.io', repository: 'library/signatures' });
  });
});
