// Deciding a digest from its signature checks: thresholds of distinct keys, required signers, annotations, repository
// binding, warn mode, explicit exceptions and blocks, and the default for unmatched images.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { parseYaml, policySource } from '../../src/config/parse.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import type { CompiledPolicy, Decision, EvalContext } from '../../src/policy/types.ts';
import type { RejectReason, SignatureCheck } from '../../src/verify/types.ts';

const ecPem = (): string =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
const FILES: Record<string, string> = { '/k/release.pub': ecPem(), '/k/ci.pub': ecPem(), '/k/qa.pub': ecPem() };
const DIGEST = `sha256:${'ab'.repeat(32)}`;

const YAML = (defaultAction: string): string => `
trust:
  keys:
    release: { file: /k/release.pub }
    ci: { file: /k/ci.pub }
    qa: { file: /k/qa.pub }
policy:
  default: ${defaultAction}
  policies:
    - name: two-of-three
      match: ["registry.example.com/team/**"]
      keys: [release, ci, qa]
      threshold: 2
    - name: release-required
      match: ["registry.example.com/prod/*"]
      keys: [release, ci]
      required: [release]
    - name: annotated
      match: ["ghcr.io/acme/*"]
      keys: [release]
      annotations: { env: prod, build: "123" }
    - name: pinned
      match: ["ghcr.io/pinned/**", "docker.io/library/nginx"]
      keys: [release]
      matchReference: true
    - name: rollout
      match: ["quay.io/**"]
      keys: [release]
      mode: warn
    - name: busybox
      match: ["docker.io/busybox"]
      allow: unsigned
    - name: blocked
      match: ["docker.io/evil/*"]
      reject: true
    - name: blocked-preview
      match: ["docker.io/maybe-evil/*"]
      reject: true
      mode: warn
`;

function compile(defaultAction = 'deny'): CompiledPolicy {
  const { raw, problems } = parseYaml(YAML(defaultAction));
  const p = compilePolicy(policySource(raw), problems, {
    readKeyFile: (f) => FILES[f] ?? new Error(`file not found: ${f}`),
  });
  assert.deepEqual(problems.list, []);
  assert.ok(p);
  return p;
}
const policy = compile();

let n = 0;
function good(signers: string[], extra: Partial<SignatureCheck> = {}): SignatureCheck {
  n++;
  return { format: 'legacy', source: `registry/app:sha256-ab.sig, layer ${n}`, verified: true, signers, ...extra };
}
function bad(reason: RejectReason, message: string): SignatureCheck {
  n++;
  return { format: 'bundle', source: `referrer ${n}`, verified: false, signers: [], reason, message };
}

function decide(
  host: string,
  repo: string,
  checks: SignatureCheck[],
  ctx: Partial<EvalContext> = {},
  p = policy,
): Decision {
  const res = p.resolve(host, repo);
  return p.evaluate(res, checks, { digest: DIGEST, ...ctx });
}

function assertSummary(d: Decision): void {
  assert.ok(d.summary.length > 0 && d.summary.length <= 100, `summary length ${d.summary.length}`);
  assert.match(d.summary, /^[\x20-\x7e]+$/);
}

describe('threshold: 2 distinct keys of 3', () => {
  const cases: [string, SignatureCheck[], boolean, string[]][] = [
    ['one signer', [good(['release'])], false, ['release']],
    ['two distinct signers', [good(['release']), good(['ci'])], true, ['ci', 'release']],
    ['three distinct signers', [good(['qa']), good(['release']), good(['ci'])], true, ['ci', 'qa', 'release']],
    ['the same signer twice', [good(['release']), good(['release'])], false, ['release']],
    ['one signer plus an invalid one', [good(['ci']), bad('bad-signature', 'altered')], false, ['ci']],
  ];
  for (const [what, checks, allow, signers] of cases) {
    test(what, () => {
      const d = decide('registry.example.com', 'team/app', checks);
      assert.equal(d.allow, allow);
      assert.equal(d.wouldDeny, false);
      assert.equal(d.policyName, 'two-of-three');
      assert.equal(d.matchedPattern, 'registry.example.com/team/**');
      assert.deepEqual(d.signers, signers);
      assert.equal(d.outcome, allow ? 'verified' : 'threshold-not-met');
      if (!allow) assert.equal(d.summary, `threshold not met: ${signers.length} of 2 distinct keys signed`);
      assertSummary(d);
    });
  }
});

describe('required signers', () => {
  test('release alone passes (threshold 1)', () =>
    assert.equal(decide('registry.example.com', 'prod/web', [good(['release'])]).allow, true));
  test('release and ci pass', () =>
    assert.deepEqual(decide('registry.example.com', 'prod/web', [good(['ci']), good(['release'])]).signers, [
      'ci',
      'release',
    ]));
  test('ci alone is denied: release must sign', () => {
    const d = decide('registry.example.com', 'prod/web', [good(['ci'])]);
    assert.equal(d.allow, false);
    assert.equal(d.outcome, 'required-signer-missing');
    assert.equal(d.summary, 'required signer missing: release');
    assert.match(d.message, /key release did not sign/);
  });
  test('a verified signature by a key the policy does not list does not count', () => {
    const d = decide('registry.example.com', 'prod/web', [good(['qa'])]);
    assert.equal(d.allow, false);
    assert.equal(d.outcome, 'no-valid-signature');
    assert.equal(d.perSignature[0]?.reason, 'unknown-key');
    assert.match(d.perSignature[0]?.message ?? '', /key qa, which policy "release-required" does not accept/);
  });
});

describe('annotations are compared as strings, like cosign verify -a', () => {
  const cases: [string, Record<string, unknown> | undefined, boolean, RegExp | undefined][] = [
    ['exact strings', { env: 'prod', build: '123', extra: 'x' }, true, undefined],
    ['another value', { env: 'dev', build: '123' }, false, /env: want "prod", signed "dev"/],
    ['absent', { build: '123' }, false, /env: want "prod", not signed/],
    ['no annotations at all', undefined, false, /env: want "prod", not signed; build: want "123", not signed/],
    [
      'a number never matches',
      { env: 'prod', build: 123 },
      false,
      /build: want "123", signed 123 \(a number; only a string value can match\)/,
    ],
    ['a boolean never matches', { env: 'prod', build: true }, false, /a boolean/],
  ];
  for (const [what, annotations, allow, re] of cases) {
    test(what, () => {
      const d = decide('ghcr.io', 'acme/app', [good(['release'], annotations === undefined ? {} : { annotations })]);
      assert.equal(d.allow, allow);
      if (re) {
        assert.equal(d.perSignature[0]?.reason, 'missing-annotation');
        assert.deepEqual(d.perSignature[0]?.signers, ['release']);
        assert.match(d.perSignature[0]?.message ?? '', re);
        assert.equal(d.summary, 'no valid signature (1 found: missing-annotation)');
      }
    });
  }
});

describe('matchReference binds the signature to the repository', () => {
  const cases: [string, string, string, string | undefined, boolean][] = [
    ['same repository', 'ghcr.io', 'pinned/app', 'ghcr.io/pinned/app', true],
    ['same repository with a tag', 'ghcr.io', 'pinned/app', 'ghcr.io/pinned/app:v1', true],
    ['another repository', 'ghcr.io', 'pinned/app', 'ghcr.io/pinned/other', false],
    ['another registry', 'ghcr.io', 'pinned/app', 'quay.io/pinned/app', false],
    ['no reference (bundle)', 'ghcr.io', 'pinned/app', undefined, false],
    ['Docker Hub aliases are one registry', 'docker.io', 'library/nginx', 'index.docker.io/library/nginx', true],
    ['a short Docker Hub name', 'index.docker.io', 'nginx', 'nginx', true],
  ];
  for (const [what, host, repo, ref, allow] of cases) {
    test(what, () => {
      const d = decide(host, repo, [good(['release'], ref === undefined ? {} : { dockerReference: ref })]);
      assert.equal(d.policyName, 'pinned');
      assert.equal(d.allow, allow);
      if (!allow) {
        assert.equal(d.perSignature[0]?.reason, 'wrong-reference');
        assert.match(
          d.perSignature[0]?.message ?? '',
          ref === undefined ? /carries no signed docker-reference/ : /signed for /,
        );
      }
    });
  }
  test('without matchReference the docker-reference is ignored, like cosign', () => {
    assert.equal(
      decide('ghcr.io', 'acme/app', [
        good(['release'], { annotations: { env: 'prod', build: '123' }, dockerReference: 'elsewhere.io/x' }),
      ]).allow,
      true,
    );
  });
});

describe('denial messages name every signature and why', () => {
  test('several rejected signatures', () => {
    const checks = [
      bad('unknown-key', 'signed by a key that is not trusted here'),
      bad('digest-mismatch', 'signed for another manifest'),
    ];
    const d = decide('registry.example.com', 'team/app', checks, { tag: 'v1' });
    assert.equal(d.allow, false);
    assert.equal(d.outcome, 'no-valid-signature');
    assert.equal(d.summary, 'no valid signature (2 found: unknown-key, digest-mismatch)');
    assert.equal(d.perSignature.length, 2);
    assert.ok(d.perSignature.every((v) => !v.counted));
    assert.ok(
      d.message.includes(
        `registry.example.com/team/app:v1@${DIGEST} is denied by policy "two-of-three" (matched "registry.example.com/team/**")`,
      ),
    );
    assert.match(d.message, /requires valid signatures by at least 2 distinct keys of release, ci, qa/);
    assert.match(d.message, /2 signatures found:/);
    assert.match(
      d.message,
      /1\. referrer \d+ \[bundle\]: not counted: unknown-key: signed by a key that is not trusted here/,
    );
    assert.match(d.message, /2\. referrer \d+ \[bundle\]: not counted: digest-mismatch: signed for another manifest/);
  });
  test('no signatures at all', () => {
    const d = decide('registry.example.com', 'team/app', []);
    assert.equal(d.outcome, 'no-signatures');
    assert.equal(d.summary, 'no signatures found (policy two-of-three)');
    assert.match(d.message, /No signatures were found for this digest/);
  });
  test('the summary stays short ASCII whatever the input', () => {
    const checks = Array.from({ length: 40 }, (_, i) =>
      bad((['malformed', 'unknown-key', 'bad-signature'] as const)[i % 3] ?? 'malformed', 'ünïcödé ✓'),
    );
    const d = decide('registry.example.com', `team/${'x'.repeat(120)}`, checks);
    assertSummary(d);
    assert.equal(d.summary, 'no valid signature (40 found: malformed x14, unknown-key x13, bad-signature x13)');
    const long = decide('unmatched.example.org', `${'very-long-name/'.repeat(10)}app`, []);
    assertSummary(long);
    assert.ok(long.summary.endsWith('...'));
  });
  test('decisions are frozen', () => {
    const d = decide('registry.example.com', 'team/app', [good(['release'])]);
    assert.ok(
      Object.isFrozen(d) &&
        Object.isFrozen(d.perSignature) &&
        Object.isFrozen(d.perSignature[0]) &&
        Object.isFrozen(d.signers),
    );
  });
});

describe('warn mode', () => {
  test('an unsatisfied rule is served and records the would-be denial', () => {
    const d = decide('quay.io', 'vendor/tool', [bad('unknown-key', 'nope')]);
    assert.equal(d.allow, true);
    assert.equal(d.wouldDeny, true);
    assert.equal(d.mode, 'warn');
    assert.equal(d.outcome, 'no-valid-signature');
    assert.match(d.message, /would be denied by policy "rollout" .* but is served because the policy is in warn mode/);
  });
  test('a satisfied rule is just allowed', () => {
    const d = decide('quay.io', 'vendor/tool', [good(['release'])]);
    assert.equal(d.allow, true);
    assert.equal(d.wouldDeny, false);
    assert.equal(d.outcome, 'verified');
  });
});

describe('exceptions, blocks and the default', () => {
  test('allow: unsigned needs no signature and says so', () => {
    const res = policy.resolve('index.docker.io', 'busybox');
    assert.equal(res.rule?.name, 'busybox');
    const d = policy.decideWithoutSignatures(res, { digest: DIGEST });
    assert.ok(d);
    assert.equal(d.allow, true);
    assert.equal(d.outcome, 'unsigned-allowed');
    assert.equal(d.summary, 'unsigned allowed by policy busybox');
    assert.deepEqual(policy.evaluate(res, [bad('malformed', 'x')], { digest: DIGEST }), d);
  });
  test('reject: true is decided before any signature is fetched', () => {
    const d = policy.decideWithoutSignatures(policy.resolve('docker.io', 'evil/miner'), { digest: DIGEST });
    assert.equal(d?.allow, false);
    assert.equal(d?.outcome, 'rejected');
    assert.equal(d?.summary, 'rejected by policy blocked');
    assert.equal(decide('docker.io', 'evil/miner', [good(['release'])]).allow, false);
  });
  test('reject in warn mode previews the block', () => {
    const d = decide('docker.io', 'maybe-evil/x', []);
    assert.equal(d.allow, true);
    assert.equal(d.wouldDeny, true);
    assert.equal(d.outcome, 'rejected');
  });
  test('deny by default says how to add a policy', () => {
    const res = policy.resolve('docker.io', 'alpine');
    assert.equal(res.rule, null);
    assert.equal(res.repository, 'library/alpine');
    const d = policy.decideWithoutSignatures(res, { digest: DIGEST });
    assert.ok(d);
    assert.equal(d.allow, false);
    assert.equal(d.outcome, 'no-policy');
    assert.equal(d.policyName, '(default)');
    assert.equal(d.summary, 'no policy matches docker.io/library/alpine');
    assert.match(d.message, /is denied: no policy matches docker\.io\/library\/alpine \(policy\.default is deny\)/);
    assert.match(
      d.message,
      /add an entry under policy\.policies whose match covers it, for example \{ name: my-images, match: \["docker\.io\/library\/alpine"\]/,
    );
  });
  test('default: allow serves unmatched images', () => {
    const p = compile('allow');
    const d = decide('docker.io', 'alpine', [], {}, p);
    assert.equal(d.allow, true);
    assert.equal(d.wouldDeny, false);
    assert.equal(d.outcome, 'default-allow');
    assert.equal(decide('registry.example.com', 'team/app', [], {}, p).allow, false, 'matched policies still apply');
  });
  test('default: warn serves unmatched images as would-be denials', () => {
    const d = decide('docker.io', 'alpine', [], {}, compile('warn'));
    assert.equal(d.allow, true);
    assert.equal(d.wouldDeny, true);
    assert.match(d.message, /served because policy\.default is warn/);
  });
  test('the policy hash differs between the three defaults', () => {
    assert.equal(new Set(['deny', 'warn', 'allow'].map((a) => compile(a).hash)).size, 3);
  });
});
