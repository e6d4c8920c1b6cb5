// Keyless trust in the config: `trust.roots` (trusted_root.json files), `trust.cas` (private CAs) and policies with
// `identities`, `root` and `tlog`. Every mistake is reported at once with its YAML path and line; what compiles is
// what verify/ is handed; the policy hash follows the trust material and the identities, not file paths; evaluate()
// counts identities like keys and its denial describes them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseYaml, policySource } from '../../src/config/parse.ts';
import type { Problems } from '../../src/util/yaml-reader.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import type { CompiledPolicy, CompileDeps, Decision, SignedRule } from '../../src/policy/types.ts';
import type { SignatureCheck } from '../../src/verify/types.ts';
import { createTestCa, createTestSigstore } from '../helpers/test-sigstore.ts';

const NOW = new Date('2025-06-01T12:00:00Z');
const ss = createTestSigstore({ now: NOW });
const ca = createTestCa({ now: NOW });
const ecPem = (): string =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
const PUBLIC_GOOD = readFileSync(
  new URL('../fixtures/trust-roots/root-signing.trusted_root.json', import.meta.url),
  'utf8',
);
const FILES: Readonly<Record<string, string>> = {
  '/k/release.pub': ecPem(),
  '/k/ci.pub': ecPem(),
  '/roots/public-good.json': PUBLIC_GOOD,
  '/roots/public-good-copy.json': PUBLIC_GOOD,
  '/roots/test.json': ss.trustedRootJson,
  '/roots/other.json': createTestSigstore({ now: NOW }).trustedRootJson,
  '/roots/tuf-root.json': JSON.stringify({ signed: { _type: 'root', version: 12 }, signatures: [] }),
  '/roots/signing-config.json': JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json' }),
  '/roots/notes.txt': 'this is not JSON\n',
  '/ca/roots.pem': ca.rootsPem,
  '/ca/int.pem': ca.intermediatesPem,
  '/ca/other-roots.pem': createTestCa({ now: NOW }).rootsPem,
  '/ca/leaf.pem': ca.issue({ subject: 'x@example.com' }).certPem,
  '/ca/key.pub': ecPem(),
};

function compile(
  text: string,
  files: Readonly<Record<string, string>> = FILES,
): { policy: CompiledPolicy | undefined; problems: Problems } {
  const { raw, problems } = parseYaml(text);
  assert.ok(problems.empty, `YAML itself must parse: ${JSON.stringify(problems.list)}`);
  const deps: CompileDeps = { readKeyFile: (p) => files[p] ?? new Error(`file not found: ${p}`) };
  return { policy: compilePolicy(policySource(raw), problems, deps), problems };
}

function mustCompile(text: string, files?: Readonly<Record<string, string>>): CompiledPolicy {
  const { policy, problems } = compile(text, files);
  assert.deepEqual(problems.list, []);
  assert.ok(policy);
  return policy;
}

/** The problems of a document that must not compile, as `line:path` sorted, and a lookup of their messages. */
function problemsOf(text: string): { at: string[]; msg: (path: string) => string } {
  const { policy, problems } = compile(text);
  assert.equal(policy, undefined);
  return {
    at: problems.list.map((p) => `${p.line}:${p.path}`).sort(),
    msg: (path) => {
      const found = problems.list.filter((p) => p.path === path);
      assert.equal(found.length, 1, `one problem at ${path}: ${JSON.stringify(problems.list)}`);
      return found[0]?.message ?? '';
    },
  };
}

/** A key, a private CA and one trust root: seven lines the documents below start with. */
const TRUST = [
  'trust:',
  '  keys:',
  '    release: { file: /k/release.pub }',
  '  cas:',
  '    corp: { roots: /ca/roots.pem, intermediates: /ca/int.pem }',
  '  roots:',
  '    public-good: { trustedRoot: /roots/public-good.json }',
];

/** problemsOf a document of TRUST (and `trust` lines after it) and `policies` under policy.policies. */
function policiesProblems(trust: readonly string[], policies: readonly string[]): ReturnType<typeof problemsOf> {
  return problemsOf([...TRUST, ...trust, 'policy:', '  policies:', ...policies].join('\n'));
}

describe('every problem with path and line', () => {
  test('trust.roots and trust.cas: files that are not what they should be', () => {
    const { at, msg } = problemsOf(
      [
        'trust:', // 1
        '  roots:', // 2
        '    public-good: { trustedRoot: /roots/public-good.json }', // 3
        '    tuf: { trustedRoot: /roots/tuf-root.json }', // 4
        '    signing: { trustedRoot: /roots/signing-config.json }', // 5
        '    notes: { trustedRoot: /roots/notes.txt }', // 6
        '    gone: { trustedRoot: /roots/missing.json }', // 7
        '    empty: {}', // 8
        '    "bad name!": { trustedRoot: /roots/test.json }', // 9
        '  cas:', // 10
        '    corp: { roots: /ca/roots.pem, intermediates: /ca/int.pem }', // 11
        '    leafy: { roots: /ca/leaf.pem }', // 12
        '    not-self: { roots: /ca/int.pem }', // 13
        '    keyfile: { roots: /ca/key.pub }', // 14
        '    int-leaf: { roots: /ca/roots.pem, intermediates: /ca/leaf.pem }', // 15
        '    nothing: { intermediates: /ca/int.pem }', // 16
        '    public-good: { roots: /ca/roots.pem }', // 17
        '    extra: { roots: /ca/roots.pem, crl: /ca/crl.pem }', // 18
      ].join('\n'),
    );
    assert.deepEqual(at, [
      '12:trust.cas.leafy',
      '13:trust.cas.not-self',
      '14:trust.cas.keyfile',
      '15:trust.cas.int-leaf',
      '16:trust.cas.nothing',
      '17:trust.cas.public-good',
      '18:trust.cas.extra.crl',
      '4:trust.roots.tuf.trustedRoot',
      '5:trust.roots.signing.trustedRoot',
      '6:trust.roots.notes.trustedRoot',
      '7:trust.roots.gone.trustedRoot',
      '8:trust.roots.empty',
      '9:trust.roots.bad name!',
    ]);
    const wrongMediaType = (name: string, got: string): string =>
      `trust authority "${name}": has media type ${got}, expected ` +
      'application/vnd.dev.sigstore.trustedroot+json;version=0.1 (or .v0.2+json): is this a trusted_root.json (not a ' +
      'TUF root.json or a signing config)?';
    assert.equal(msg('trust.roots.tuf.trustedRoot'), wrongMediaType('tuf', 'undefined'));
    assert.equal(
      msg('trust.roots.signing.trustedRoot'),
      wrongMediaType('signing', '"application/vnd.dev.sigstore.signingconfig.v0.2+json"'),
    );
    assert.equal(
      msg('trust.roots.notes.trustedRoot'),
      'trust authority "notes": is not JSON (Unexpected token \'h\', "this is not JSON?" is not valid JSON); ' +
        'expected a trusted_root.json',
    );
    assert.equal(msg('trust.roots.gone.trustedRoot'), 'cannot read the file: file not found: /roots/missing.json');
    assert.equal(
      msg('trust.roots.empty'),
      'needs `trustedRoot`: the path of a trusted_root.json (the public-good one ships in config/), or `tuf`: ' +
        'a TUF repository that keeps it current',
    );
    assert.ok(msg('trust.roots.bad name!').startsWith('name "bad name!" must be 1-64 characters'));
    assert.equal(
      msg('trust.cas.leafy'),
      'trust authority "leafy": roots: certificate 1 (CN=x@example.com) is not a CA',
    );
    assert.equal(
      msg('trust.cas.not-self'),
      'trust authority "not-self": roots: certificate 1 (O=sigward.test, CN=test-private-ca-intermediate) is not ' +
        'self-signed',
    );
    assert.equal(
      msg('trust.cas.keyfile'),
      'trust authority "keyfile": roots: found a "PUBLIC KEY" PEM block; only CERTIFICATE blocks belong here',
    );
    assert.equal(
      msg('trust.cas.int-leaf'),
      'trust authority "int-leaf": intermediates: certificate 1 (CN=x@example.com) is not a CA',
    );
    assert.equal(msg('trust.cas.nothing'), 'needs `roots`: the path of a PEM file with the CA root certificate(s)');
    assert.equal(
      msg('trust.cas.public-good'),
      '"public-good" is already the name of a trust root; give each a distinct name',
    );
  });

  test('identities: issuer, subject, RE2 syntax, CA names, names', () => {
    const { at, msg } = policiesProblems(
      [],
      [
        '    - name: apps', // 10
        '      match: ["ghcr.io/acme/**"]', // 11
        '      keys: [release]', // 12
        '      required: [release, lead, nobody]', // 13
        '      identities:', // 14
        '        - name: lead', // 15
        '          subject: https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main', // 16
        '        - name: both', // 17
        '          subject: me@example.com', // 18
        '          subjectRegExp: "^me@"', // 19
        '          issuer: https://accounts.google.com', // 20
        '        - name: ahead', // 21
        '          subjectRegExp: "^(?=admin)"', // 22
        '          issuer: https://accounts.google.com', // 23
        '        - name: backref', // 24
        '          subjectRegExp: "^(a)\\\\1$"', // 25
        '          issuerRegExp: "^https://(x)\\\\k<1>"', // 26
        '        - name: flags', // 27
        '          subjectRegExp: "^me(?i)@example\\\\.com$"', // 28
        '          issuer: https://accounts.google.com', // 29
        '        - name: behind', // 30
        '          subjectRegExp: "(?<!evil)@example\\\\.com$"', // 31
        '          issuer: https://accounts.google.com', // 32
        '        - { name: ci, subject: ci@example.com, ca: nope }', // 33
        '        - { name: release, subject: r@example.com, ca: corp }', // 34
        '        - { name: ci, subject: again@example.com, ca: corp }', // 35
        '        - { subject: "", ca: corp }', // 36
        '        - { subjectRegExp: "[", ca: corp }', // 37
        '        - { name: gh, subject: x@example.com, issuer: https://x.test, github: { branch: main } }', // 38
        '        - { name: no-subject, issuer: https://accounts.google.com }', // 39
      ],
    );
    assert.deepEqual(at, [
      '12:policy.policies[0].keys[0]',
      '13:policy.policies[0].required[2]',
      '15:policy.policies[0].identities[0]',
      '17:policy.policies[0].identities[1]',
      '22:policy.policies[0].identities[2].subjectRegExp',
      '25:policy.policies[0].identities[3].subjectRegExp',
      '26:policy.policies[0].identities[3].issuerRegExp',
      '28:policy.policies[0].identities[4].subjectRegExp',
      '31:policy.policies[0].identities[5].subjectRegExp',
      '33:policy.policies[0].identities[6].ca',
      '35:policy.policies[0].identities[8].name',
      '36:policy.policies[0].identities[9].subject',
      '37:policy.policies[0].identities[10].subjectRegExp',
      '38:policy.policies[0].identities[11].github.branch',
      '39:policy.policies[0].identities[12]',
    ]);
    const id = (i: number, sub = ''): string => `policy.policies[0].identities[${i}]${sub}`;
    assert.equal(
      msg(id(0)),
      'needs `issuer` (the OIDC issuer, e.g. https://token.actions.githubusercontent.com) or `issuerRegExp`: a ' +
        'keyless identity without its issuer would accept anyone who can get that name from any provider',
    );
    assert.equal(msg(id(1)), 'set `subject` or `subjectRegExp`, not both');
    const lookaround = 'lookahead and lookbehind are not RE2 syntax (Go would refuse this pattern)';
    const backref = 'backreferences are not RE2 syntax (Go would refuse this pattern)';
    assert.equal(msg(id(2, '.subjectRegExp')), `"^(?=admin)": ${lookaround}`);
    assert.equal(msg(id(3, '.subjectRegExp')), `"^(a)\\\\1$": ${backref}`);
    assert.equal(msg(id(3, '.issuerRegExp')), `"^https://(x)\\\\k<1>": ${backref}`);
    assert.equal(
      msg(id(4, '.subjectRegExp')),
      '"^me(?i)@example\\\\.com$": inline flags are only accepted as a leading (?i)',
    );
    assert.equal(msg(id(5, '.subjectRegExp')), `"(?<!evil)@example\\\\.com$": ${lookaround}`);
    assert.equal(msg(id(6, '.ca')), 'no CA named "nope" under trust.cas (declared: corp)');
    assert.equal(
      msg('policy.policies[0].keys[0]'),
      '"release" is also the name of an identity of this policy; names must differ',
    );
    // The first "ci" failed for another reason (an unknown CA); its name still counts.
    assert.equal(msg(id(8, '.name')), '"ci" is already the name of another identity of this policy');
    assert.equal(msg(id(9, '.subject')), 'must not be empty');
    assert.ok(msg(id(10, '.subjectRegExp')).startsWith('"[": is not a valid regular expression: '));
    assert.ok(msg(id(11, '.github.branch')).includes("unknown key 'branch'"));
    assert.equal(msg(id(12)), 'needs `subject` (the certificate identity: an email or URI) or `subjectRegExp`');
    // `required` may name an identity (lead); only the unknown name is a problem.
    assert.ok(msg('policy.policies[0].required[2]').startsWith('"nobody" is not in this policy\'s keys or identities'));
  });

  test('roots: unknown, ambiguous, absent; tlog: required without a root; threshold above keys + identities', () => {
    const { at, msg } = policiesProblems(
      ['    staging: { trustedRoot: /roots/test.json }'], // 8
      [
        '    - name: two-roots', // 11
        '      match: ["ghcr.io/a/*"]', // 12
        '      identities:', // 13
        '        - { subject: me@example.com, issuer: https://accounts.google.com }', // 14
        '    - name: unknown-root', // 15
        '      match: ["ghcr.io/b/*"]', // 16
        '      root: production', // 17
        '      identities:', // 18
        '        - { subject: me@example.com, issuer: https://accounts.google.com }', // 19
        '    - name: keys-logged', // 20
        '      match: ["ghcr.io/c/*"]', // 21
        '      keys: [release]', // 22
        '      tlog: required', // 23
        '    - name: threshold', // 24
        '      match: ["ghcr.io/d/*"]', // 25
        '      keys: [release]', // 26
        '      root: public-good', // 27
        '      threshold: 3', // 28
        '      identities:', // 29
        '        - { name: ci, subject: me@example.com, issuer: https://accounts.google.com }', // 30
        '    - name: tlog-word', // 31
        '      match: ["ghcr.io/e/*"]', // 32
        '      tlog: sometimes', // 33
        '      identities:', // 34
        '        - { subject: a@example.com, ca: corp }', // 35
      ],
    );
    assert.deepEqual(at, [
      '14:policy.policies[0].identities[0]',
      '17:policy.policies[1].root',
      '23:policy.policies[2].tlog',
      '28:policy.policies[3].threshold',
      '33:policy.policies[4].tlog',
    ]);
    assert.equal(
      msg('policy.policies[0].identities[0]'),
      '2 trust roots are configured: say which one this policy uses with `root:`',
    );
    assert.equal(
      msg('policy.policies[1].root'),
      'no trust root named "production" under trust.roots (declared: public-good, staging)',
    );
    assert.equal(
      msg('policy.policies[2].tlog'),
      'is required, but this policy has no Sigstore trust root to check log entries against: add one under ' +
        'trust.roots (and `root:` here when there are several)',
    );
    assert.equal(
      msg('policy.policies[3].threshold'),
      'is 3, but keys and identities name only 2 signers: a threshold counts distinct keys and identities',
    );
    assert.ok(msg('policy.policies[4].tlog').startsWith('must be one of required | optional'));
  });

  test('no root at all for a keyless identity; tlog: required with only private-CA identities', () => {
    const { at, msg } = problemsOf(
      [
        'trust:', // 1
        '  cas:', // 2
        '    corp: { roots: /ca/roots.pem }', // 3
        'policy:', // 4
        '  policies:', // 5
        '    - name: no-root', // 6
        '      match: ["ghcr.io/a/*"]', // 7
        '      identities:', // 8
        '        - { subject: me@example.com, issuer: https://accounts.google.com }', // 9
        '        - { subject: ci@example.com, ca: corp }', // 10
        '    - name: ca-logged', // 11
        '      match: ["ghcr.io/b/*"]', // 12
        '      tlog: required', // 13
        '      identities:', // 14
        '        - { subject: a@example.com, ca: corp }', // 15
        '    - name: unsigned', // 16
        '      match: ["ghcr.io/c/*"]', // 17
        '      allow: unsigned', // 18
        '      identities: [{ subject: a@example.com, ca: corp }]', // 19
      ].join('\n'),
    );
    assert.deepEqual(at, [
      '13:policy.policies[1].tlog',
      '19:policy.policies[2].identities',
      '9:policy.policies[0].identities[0]',
    ]);
    assert.equal(
      msg('policy.policies[0].identities[0]'),
      'a keyless identity needs a Sigstore trust root: add one under trust.roots (config/ ships the public-good ' +
        'trusted_root.json), or give `ca:` for a private CA',
    );
    assert.ok(msg('policy.policies[1].tlog').startsWith('is required, but this policy has no Sigstore trust root'));
    assert.equal(
      msg('policy.policies[2].identities'),
      'has no effect with `allow: unsigned` (no signature is checked); remove it',
    );
  });
});

const GOOD = `trust:
  keys:
    release: { file: /k/release.pub }
  roots:
    public-good: { trustedRoot: /roots/public-good.json }
  cas:
    corp: { roots: /ca/roots.pem, intermediates: /ca/int.pem }
policy:
  policies:
    - name: apps
      match: ["ghcr.io/acme/**"]
      keys: [release]
      threshold: 2
      required: [ci]
      identities:
        - name: ci
          subjectRegExp: "^https://github\\\\.com/acme/"
          issuer: https://token.actions.githubusercontent.com
          github: { repository: acme/app, ref: refs/heads/main }
        - subject: builder@example.com
          ca: corp
    - name: tools
      match: ["ghcr.io/tools/*"]
      tlog: optional
      identities:
        - { subject: me@example.com, issuerRegExp: "^https://accounts\\\\.google\\\\.com$" }
`;

function signedRule(p: CompiledPolicy, name: string): SignedRule {
  const rule = p.rules.find((r) => r.name === name);
  assert.ok(rule?.kind === 'signed', `${name} is a signed rule`);
  return rule;
}

describe('what compiles is what verify/ is handed', () => {
  test('identities with their authority, matches, claims and tlog settings', () => {
    const p = mustCompile(GOOD);
    assert.deepEqual(Object.keys(p.roots), ['public-good']);
    assert.deepEqual(Object.keys(p.cas), ['corp']);
    const apps = signedRule(p, 'apps');
    assert.deepEqual(
      apps.identities.map((i) => i.name),
      ['ci', 'identity-2'],
    );
    const [ci, builder] = apps.identities;
    assert.equal(ci?.authority, p.roots['public-good']);
    assert.equal(builder?.authority, p.cas['corp']);
    assert.deepEqual(ci?.issuer, { exact: 'https://token.actions.githubusercontent.com' });
    assert.deepEqual(ci?.github, { repository: 'acme/app', ref: 'refs/heads/main' });
    assert.equal(builder?.issuer, undefined);
    assert.ok(ci && 'regexp' in ci.subject);
    // Unanchored at the end, like cosign: a longer workflow path still matches the organisation prefix.
    assert.ok(ci.subject.re.test('https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main'));
    assert.equal(ci.subject.re.test('https://github.com/acme-evil/app'), false);
    assert.equal(apps.identityTlog, true);
    assert.equal(apps.keyTlog, undefined);
    assert.deepEqual(apps.required, ['ci']);
    const tools = signedRule(p, 'tools');
    assert.equal(tools.identityTlog, false);
    assert.equal(tools.identities[0]?.authority, p.roots['public-good']);
  });

  test('tlog: required with keys and a root: key signatures must be logged in that root', () => {
    const p = mustCompile(GOOD.replace('      threshold: 2\n', '      threshold: 2\n      tlog: required\n'));
    const apps = signedRule(p, 'apps');
    assert.equal(apps.keyTlog, p.roots['public-good']);
    assert.equal(apps.identityTlog, true);
  });

  test('two roots: `root:` picks one', () => {
    const two = GOOD.replace(
      '    public-good: { trustedRoot: /roots/public-good.json }\n',
      '    public-good: { trustedRoot: /roots/public-good.json }\n    staging: { trustedRoot: /roots/test.json }\n',
    )
      .replace('      threshold: 2\n', '      threshold: 2\n      root: staging\n')
      .replace('      tlog: optional\n', '      tlog: optional\n      root: public-good\n');
    const p = mustCompile(two);
    assert.equal(signedRule(p, 'apps').identities[0]?.authority, p.roots['staging']);
    assert.equal(signedRule(p, 'tools').identities[0]?.authority, p.roots['public-good']);
  });
});

describe('policy hash', () => {
  const base = mustCompile(GOOD).hash;
  const swap =
    (from: string, to: string) =>
    (text: string): string =>
      text.replace(from, to);
  const withFile = (path: string, from: string): Readonly<Record<string, string>> => ({
    ...FILES,
    [path]: FILES[from] ?? '',
  });
  const changes: [string, (text: string) => string, Readonly<Record<string, string>>?][] = [
    ['the trusted_root.json content (same path)', (t) => t, withFile('/roots/public-good.json', '/roots/other.json')],
    ['the CA roots file content (same path)', (t) => t, withFile('/ca/roots.pem', '/ca/other-roots.pem')],
    ['another trusted_root.json file', swap('/roots/public-good.json', '/roots/test.json')],
    ['an identity subject', swap('subject: builder@example.com', 'subject: builder2@example.com')],
    ['an identity subject regexp', swap('"^https://github\\\\.com/acme/"', '"^https://github\\\\.com/acme/app"')],
    [
      'an exact subject turned into a regexp',
      swap('subject: builder@example.com', 'subjectRegExp: builder@example.com'),
    ],
    [
      'an identity issuer',
      swap('issuer: https://token.actions.githubusercontent.com', 'issuer: https://issuer.example'),
    ],
    ['an issuer regexp', swap('"^https://accounts\\\\.google\\\\.com$"', '"^https://accounts\\\\.google\\\\.com"')],
    ['a GitHub claim', swap('ref: refs/heads/main', 'ref: refs/heads/release')],
    ['a GitHub claim added', swap('ref: refs/heads/main', 'ref: refs/heads/main, trigger: push')],
    ['an identity name', (t) => t.replace('name: ci\n', 'name: ci2\n').replace('required: [ci]', 'required: [ci2]')],
    ['tlog optional -> required', swap('tlog: optional', 'tlog: required')],
    ['tlog optional -> the default (identities only: no key signature to log)', swap('      tlog: optional\n', '')],
    ['tlog: required on a rule with keys', swap('      threshold: 2\n', '      threshold: 2\n      tlog: required\n')],
    [
      'the CA of an identity',
      (t) =>
        t.replace('ca: corp', 'ca: corp2').replace('  cas:\n', '  cas:\n    corp2: { roots: /ca/other-roots.pem }\n'),
    ],
  ];
  for (const [what, edit, files] of changes) {
    test(`changes with ${what}`, () => {
      const text = edit(GOOD);
      assert.ok(files !== undefined || text !== GOOD, 'the edit applies');
      assert.notEqual(mustCompile(text, files).hash, base);
    });
  }

  const same: [string, string][] = [
    [
      'the path of the trusted_root.json (same content)',
      GOOD.replace('/roots/public-good.json', '/roots/public-good-copy.json'),
    ],
    ['the order of identities and of their fields', reorderIdentities(GOOD)],
    ['an unused root and CA', GOOD.replace('  cas:\n', '  cas:\n    spare: { roots: /ca/other-roots.pem }\n')],
  ];
  for (const [what, text] of same) {
    test(`does not change with ${what}`, () => {
      assert.notEqual(text, GOOD);
      assert.equal(mustCompile(text).hash, base);
    });
  }
});

/** GOOD with the two identities of `apps` swapped and their members reordered. */
function reorderIdentities(text: string): string {
  const from = text.indexOf('        - name: ci\n');
  const to = text.indexOf('    - name: tools\n');
  const reordered = `        - ca: corp
          subject: builder@example.com
          name: identity-2
        - github: { ref: refs/heads/main, repository: acme/app }
          issuer: https://token.actions.githubusercontent.com
          subjectRegExp: "^https://github\\\\.com/acme/"
          name: ci
`;
  return text.slice(0, from) + reordered + text.slice(to);
}

describe('evaluate counts identities like keys', () => {
  const p = mustCompile(GOOD);
  const res = p.resolve('ghcr.io', 'acme/app');
  const DIGEST = `sha256:${'cd'.repeat(32)}`;
  let n = 0;
  const check = (signers: string[]): SignatureCheck => ({
    format: n++ % 2 === 0 ? 'legacy' : 'bundle',
    source: `signature ${n}`,
    verified: true,
    signers,
  });
  const decide = (checks: SignatureCheck[]): Decision => p.evaluate(res, checks, { digest: DIGEST });
  const REQUIRES =
    'Policy "apps" requires valid signatures by at least 2 distinct signers of the key release or the identities ' +
    'ci (/^https://github\\.com/acme// from https://token.actions.githubusercontent.com, github repository=acme/app ' +
    'ref=refs/heads/main); identity-2 (builder@example.com from CA corp), with certificates logged in a ' +
    'transparency log, including the signer ci.';

  test('threshold 2 with a key and an identity: both must sign', () => {
    const both = decide([check(['release']), check(['ci'])]);
    assert.equal(both.allow, true, both.message);
    assert.equal(both.outcome, 'verified');
    assert.deepEqual(both.signers, ['ci', 'release']);
    const two = decide([check(['ci']), check(['identity-2'])]);
    assert.equal(two.allow, true, two.message);
    assert.deepEqual(two.signers, ['ci', 'identity-2']);
  });

  test('one identity alone: threshold not met, and the denial describes the identities', () => {
    const d = decide([check(['ci'])]);
    assert.equal(d.allow, false);
    assert.equal(d.outcome, 'threshold-not-met');
    assert.equal(d.summary, 'threshold not met: 1 of 2 distinct signers signed');
    const lines = d.message.split('\n');
    assert.equal(
      lines[0],
      `ghcr.io/acme/app@${DIGEST} is denied by policy "apps" (matched "ghcr.io/acme/**"): only 1 distinct signer ` +
        'signed (ci), 2 are required.',
    );
    assert.equal(lines[1], REQUIRES);
  });

  test('the key and the CA identity without the required identity: required signer missing', () => {
    const d = decide([check(['release']), check(['identity-2'])]);
    assert.equal(d.allow, false);
    assert.equal(d.outcome, 'required-signer-missing');
    assert.equal(d.summary, 'required signer missing: ci');
    assert.ok(d.message.includes(': signer ci did not sign.'), d.message);
  });

  test('an identity name the rule does not have is not counted', () => {
    const d = decide([check(['release']), check(['somebody'])]);
    assert.equal(d.allow, false);
    assert.deepEqual(d.signers, ['release']);
    assert.equal(d.perSignature[1]?.counted, false);
    assert.equal(d.perSignature[1]?.reason, 'unknown-key');
  });

  test('a refused keyless signature is listed with its reason', () => {
    const refused: SignatureCheck = {
      format: 'bundle',
      source: 'referrer sha256:ee…',
      verified: false,
      signers: [],
      reason: 'wrong-identity',
      message: 'the certificate is trusted but identity "ci": GitHub ref "refs/heads/dev", want "refs/heads/main"',
    };
    const d = decide([check(['release']), refused]);
    assert.equal(d.outcome, 'required-signer-missing');
    assert.ok(
      d.message.includes(
        '2. referrer sha256:ee… [bundle]: not counted: wrong-identity: the certificate is trusted but identity "ci": ' +
          'GitHub ref "refs/heads/dev", want "refs/heads/main"',
      ),
      d.message,
    );
  });

  test('tlog optional and private CAs are described; keyTlog names its root', () => {
    const t = mustCompile(GOOD);
    const d = t.evaluate(t.resolve('ghcr.io', 'tools/x'), [], { digest: DIGEST });
    assert.equal(
      d.message.split('\n')[1],
      'Policy "tools" requires a valid signature by the identity identity-1 (me@example.com from ' +
        '/^https://accounts\\.google\\.com$/), with certificates timestamped.',
    );
    const logged = mustCompile(GOOD.replace('      threshold: 2\n', '      threshold: 2\n      tlog: required\n'));
    const l = logged.evaluate(logged.resolve('ghcr.io', 'acme/app'), [], { digest: DIGEST });
    assert.ok(l.message.includes('key signatures logged in trust root public-good'), l.message);
  });
});
