// Compiling trust + policy: every problem at once with its YAML path and line, key loading, ambiguity errors, the
// semantic hash, deep immutability, and the purity of src/policy.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { parseYaml, policySource } from '../../src/config/parse.ts';
import type { Problems } from '../../src/util/yaml-reader.ts';
import { SigwardError } from '../../src/errors.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import type { CompiledPolicy, CompileDeps } from '../../src/policy/types.ts';

const ecPem = (): string =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
const K = { release: ecPem(), ci: ecPem(), qa: ecPem(), other: ecPem() };
const FILES: Record<string, string> = {
  '/k/release.pub': K.release,
  '/k/ci.pub': K.ci,
  '/k/qa.pub': K.qa,
  '/k/other.pub': K.other,
  '/k/copy-of-release.pub': K.release,
  '/k/notes.txt': 'hello, this is not a key\n',
  '/k/private.pem': generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string,
  '/k/k1.pub': generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({
    type: 'spki',
    format: 'pem',
  }) as string,
};
const readKeyFile = (p: string): string | Error => FILES[p] ?? new Error(`file not found: ${p}`);

function compile(
  text: string,
  deps: Partial<CompileDeps> = {},
): { policy: CompiledPolicy | undefined; problems: Problems } {
  const { raw, problems } = parseYaml(text);
  assert.ok(problems.empty, `YAML itself must parse: ${JSON.stringify(problems.list)}`);
  return { policy: compilePolicy(policySource(raw), problems, { readKeyFile, ...deps }), problems };
}

function mustCompile(text: string, deps: Partial<CompileDeps> = {}): CompiledPolicy {
  const { policy, problems } = compile(text, deps);
  assert.deepEqual(problems.list, []);
  assert.ok(policy);
  return policy;
}

describe('every problem is reported at once, with path and line', () => {
  test('a file with many mistakes', () => {
    const yaml = [
      'trust:', // 1
      '  keys:', // 2
      '    release: { file: /k/release.pub }', // 3
      '    ci: { file: /k/missing.pub }', // 4
      '    junk: { file: /k/notes.txt }', // 5
      '    priv: { file: /k/private.pem }', // 6
      '    k1: { file: /k/k1.pub }', // 7
      '    both: { file: /k/qa.pub, pem: "x" }', // 8
      '    neither: {}', // 9
      '    twin: { file: /k/copy-of-release.pub }', // 10
      '    "bad name!": { file: /k/other.pub }', // 11
      'policy:', // 12
      '  default: maybe', // 13
      '  policies:', // 14
      '    - name: apps', // 15
      '      match: ["ghcr.io/acme/*", "Ghcr.io/Acme/X", "busybox"]', // 16
      '      keys: [release, nope, release]', // 17
      '      threshold: 3', // 18
      '      required: [qa]', // 19
      '      annotations: { env: prod, build: 12 }', // 20
      '      mode: loud', // 21
      '      platforms: all', // 22
      '      colour: red', // 23
      '    - name: apps', // 24
      '      match: ["docker.io/busybox"]', // 25
      '      allow: unsigned', // 26
      '    - name: bb', // 27
      '      match: ["docker.io/busybox"]', // 28
      '      allow: unsigned', // 29
      '      keys: [release]', // 30
      '      mode: warn', // 31
      '    - name: clash', // 32
      '      match: ["ghcr.io/acme/*"]', // 33
      '      keys: [release]', // 34
      '    - match: ["quay.io/**"]', // 35
      '      keys: []', // 36
      '    - name: both-kinds', // 37
      '      match: ["quay.io/x/*"]', // 38
      '      allow: unsigned', // 39
      '      reject: true', // 40
    ].join('\n');
    const { policy, problems } = compile(yaml);
    assert.equal(policy, undefined);
    const got = problems.list.map((p) => `${p.line}:${p.path}`).sort();
    assert.deepEqual(got, [
      '10:trust.keys.twin',
      '11:trust.keys.bad name!',
      '13:policy.default',
      '16:policy.policies[0].match[1]',
      '16:policy.policies[0].match[2]',
      '17:policy.policies[0].keys[1]',
      '17:policy.policies[0].keys[2]',
      '18:policy.policies[0].threshold',
      '19:policy.policies[0].required[0]',
      '20:policy.policies[0].annotations.build',
      '21:policy.policies[0].mode',
      '22:policy.policies[0].platforms',
      '23:policy.policies[0].colour',
      '24:policy.policies[1].name',
      '30:policy.policies[2].keys',
      '31:policy.policies[2].mode',
      '33:policy.policies[3].match[0]',
      '35:policy.policies[4].name',
      '36:policy.policies[4].keys',
      '37:policy.policies[5]',
      '4:trust.keys.ci.file',
      '5:trust.keys.junk.file',
      '6:trust.keys.priv.file',
      '7:trust.keys.k1.file',
      '8:trust.keys.both',
      '9:trust.keys.neither',
    ]);
    const msg = (path: string): string => problems.list.find((p) => p.path === path)?.message ?? '';
    assert.match(msg('trust.keys.ci.file'), /cannot read the key file: file not found: \/k\/missing.pub/);
    assert.match(msg('trust.keys.junk.file'), /no PEM block/);
    assert.match(msg('trust.keys.priv.file'), /PRIVATE KEY/);
    assert.match(msg('trust.keys.k1.file'), /curve secp256k1 is not supported/);
    assert.match(msg('trust.keys.twin'), /same public key as trust\.keys\.release/);
    assert.match(msg('policy.policies[0].keys[1]'), /no key named "nope" under trust\.keys/);
    assert.match(msg('policy.policies[0].keys[2]'), /listed twice/);
    assert.match(msg('policy.policies[0].threshold'), /is 3, but keys lists only 2 keys/);
    assert.match(msg('policy.policies[0].required[0]'), /"qa" is not in this policy's keys/);
    assert.match(msg('policy.policies[0].annotations.build'), /must be a string/);
    assert.match(msg('policy.policies[2].keys'), /no effect with `allow: unsigned`/);
    assert.match(msg('policy.policies[3].match[0]'), /\(policy "apps"\) are equally specific/);
    assert.match(msg('policy.policies[5]'), /not both/);
  });

  test('a key named by a policy but broken is reported once, at the key', () => {
    const { policy, problems } = compile(
      'trust: { keys: { ci: { file: /k/missing.pub } } }\npolicy: { policies: [ { name: a, match: ["x.io/a"], keys: [ci] } ] }',
    );
    assert.equal(policy, undefined);
    assert.deepEqual(
      problems.list.map((p) => p.path),
      ['trust.keys.ci.file'],
    );
  });

  test('inline PEM and an injected key parser', () => {
    let calls = 0;
    const parseKey = (name: string): never => {
      calls++;
      throw new SigwardError('KEY_INVALID', `trusted key "${name}": refused by the test parser`);
    };
    const { policy, problems } = compile(
      `trust:\n  keys:\n    a:\n      pem: |\n${K.release.replace(/^/gm, '        ')}`,
      { parseKey },
    );
    assert.equal(policy, undefined);
    assert.equal(calls, 1);
    assert.deepEqual(
      problems.list.map((p) => [p.path, p.message]),
      [['trust.keys.a.pem', 'trusted key "a": refused by the test parser']],
    );
  });
});

describe('ambiguity between policies', () => {
  const two = (a: string, b: string): string =>
    `trust: { keys: { r: { file: /k/release.pub } } }\npolicy:\n  policies:\n    - { name: one, match: ["${a}"], keys: [r] }\n    - { name: two, match: ["${b}"], keys: [r] }\n`;
  const errors: [string, string][] = [
    ['ghcr.io/acme/*', 'ghcr.io/acme/*'],
    ['ghcr.io/acme/app-*', 'ghcr.io/acme/*-web'],
    ['a*.io/x', '*b.io/x'],
    ['docker.io/busybox', 'index.docker.io/library/busybox'], // the same name once canonicalized
  ];
  for (const [a, b] of errors) {
    test(`${a} vs ${b} is refused with an example name`, () => {
      const { policy, problems } = compile(two(a, b));
      assert.equal(policy, undefined);
      assert.equal(problems.list.length, 1);
      assert.equal(problems.list[0]?.path, 'policy.policies[1].match[0]');
      assert.match(problems.list[0]?.message ?? '', /equally specific and both match names such as \S+/);
    });
  }
  const fine: [string, string][] = [
    ['ghcr.io/acme/*', 'ghcr.io/*/app'],
    ['ghcr.io/*/x', 'quay.io/*/x'],
    ['ghcr.io/acme/app-*', 'ghcr.io/acme/web-*'],
    ['ghcr.io/**', '**'],
  ];
  for (const [a, b] of fine) test(`${a} vs ${b} compiles`, () => void mustCompile(two(a, b)));
  test('equal overlapping patterns inside ONE policy are fine', () => {
    mustCompile(
      'trust: { keys: { r: { file: /k/release.pub } } }\npolicy: { policies: [ { name: one, match: ["ghcr.io/acme/app-*", "ghcr.io/acme/*-web"], keys: [r] } ] }',
    );
  });
});

describe('policy hash', () => {
  const base = `# production trust
trust:
  keys:
    release: { file: /k/release.pub }
    ci: { file: /k/ci.pub }
policy:
  default: deny
  policies:
    - name: apps
      match: ["ghcr.io/acme/**", "quay.io/acme/*"]
      keys: [release, ci]
      threshold: 2
      required: [release]
      annotations: { env: prod, team: web }
    - name: busybox
      match: ["docker.io/busybox"]
      allow: unsigned
`;
  const reordered = `trust:
  keys:
    ci: { file: /k/ci.pub }        # CI key
    release: { file: /k/copy-of-release.pub }   # same key material, another path
    unused: { file: /k/qa.pub }    # declared but used by no policy
policy:
  policies:
    - allow: unsigned
      match: ["index.docker.io/library/busybox"]
      name: busybox
    - name: apps
      annotations: { team: web, env: prod }
      required: [release]
      threshold: 2
      keys: [ci, release]
      match: ["quay.io/acme/*", "ghcr.io/acme/**"]
  default: deny
`;
  test('is 64 hex and stable across comments, ordering, paths and unused keys', () => {
    const a = mustCompile(base);
    assert.match(a.hash, /^[0-9a-f]{64}$/);
    assert.equal(mustCompile(base).hash, a.hash);
    assert.equal(mustCompile(reordered).hash, a.hash);
  });
  const changes: [string, (s: string) => string][] = [
    ['another key', (s) => s.replace('/k/ci.pub', '/k/other.pub')],
    ['threshold', (s) => s.replace('threshold: 2', 'threshold: 1')],
    ['an annotation value', (s) => s.replace('env: prod', 'env: staging')],
    ['a pattern', (s) => s.replace('quay.io/acme/*', 'quay.io/acme/**')],
    ['the mode', (s) => s.replace('required: [release]', 'required: [release]\n      mode: warn')],
    ['platforms', (s) => s.replace('required: [release]', 'required: [release]\n      platforms: both')],
    ['matchReference', (s) => s.replace('required: [release]', 'required: [release]\n      matchReference: true')],
    ['the default', (s) => s.replace('default: deny', 'default: allow')],
    ['a policy name', (s) => s.replace('name: apps', 'name: apps2')],
  ];
  for (const [what, edit] of changes) {
    test(`changes with ${what}`, () => {
      const edited = edit(base);
      assert.notEqual(edited, base);
      assert.notEqual(mustCompile(edited).hash, mustCompile(base).hash);
    });
  }
});

describe('compiled object', () => {
  test('is deeply frozen', () => {
    const p = mustCompile(
      'trust: { keys: { r: { file: /k/release.pub } } }\npolicy: { policies: [ { name: a, match: ["ghcr.io/a/*"], keys: [r], annotations: { env: prod } } ] }',
    );
    const rule = p.rules[0];
    assert.ok(rule && rule.kind === 'signed');
    assert.ok(Object.isFrozen(p) && Object.isFrozen(p.rules) && Object.isFrozen(rule) && Object.isFrozen(rule.keys));
    assert.ok(Object.isFrozen(rule.annotations) && Object.isFrozen(rule.keys[0]) && Object.isFrozen(p.keys));
    assert.throws(() => {
      (rule.annotations as Record<string, string>).env = 'dev';
    }, TypeError);
    assert.throws(() => {
      (p.rules as unknown[]).push(rule);
    }, TypeError);
    assert.equal(rule.keys[0]?.name, 'r');
    assert.equal(rule.keys[0]?.algorithm, 'ecdsa-p256');
  });

  test('an empty document compiles to deny-by-default with no rules', () => {
    const { raw, problems } = parseYaml('');
    const p = compilePolicy(policySource(raw), problems, { readKeyFile });
    assert.ok(p);
    assert.equal(p.defaultAction, 'deny');
    assert.equal(p.rules.length, 0);
    assert.equal(p.resolve('ghcr.io', 'a/b').rule, null);
  });
});

test('src/policy is pure: no I/O imports and no clock', () => {
  const dir = new URL('../../src/policy/', import.meta.url);
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length >= 8);
  for (const f of files) {
    const src = readFileSync(new URL(f, dir), 'utf8');
    for (const m of src.matchAll(/from '([^']+)'/g)) {
      const spec = m[1] ?? '';
      assert.ok(spec.startsWith('.') || spec === 'node:crypto', `${f} imports ${spec}`);
      assert.ok(!/\/(upstream|proxy|http|cli)\/|\/log\.ts$|config\/load\.ts$/.test(spec), `${f} imports ${spec}`);
    }
    assert.doesNotMatch(src, /Date\.now|new Date\(|performance\.now|process\.(env|hrtime)/, f);
  }
});
