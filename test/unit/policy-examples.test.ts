// The worked examples in config/examples/policy-*.yaml: each is a complete config that the config parser accepts and
// the policy compiler compiles, and each resolves and decides the way its header comment says.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { parseConfigText } from '../../src/config/parse.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { hostNames } from '../../src/policy/hosts.ts';
import type { CompiledPolicy } from '../../src/policy/types.ts';

const DIR = new URL('../../config/examples/', import.meta.url);
const DIGEST = `sha256:${'c'.repeat(64)}`;
// Each key file path gets its own freshly generated key; unknown paths are "not found".
const keyFiles = new Map<string, string>();
for (const name of ['release', 'ci']) {
  keyFiles.set(
    `/etc/sigward/keys/${name}.pub`,
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string,
  );
}

function load(file: string): CompiledPolicy {
  const parsed = parseConfigText(readFileSync(new URL(file, DIR), 'utf8'));
  assert.deepEqual(parsed.problems, [], `${file}: config sections`);
  assert.ok(parsed.config);
  const hosts = hostNames(parsed.config.upstreams);
  const policy = compilePolicy(parsed.policySource, parsed.collector, {
    readKeyFile: (p) => keyFiles.get(p) ?? new Error(`file not found: ${p}`),
    hosts,
  });
  assert.deepEqual(parsed.collector.list, [], `${file}: trust and policy sections`);
  assert.ok(policy);
  return policy;
}

const ruleFor = (p: CompiledPolicy, host: string, repo: string): string | null =>
  p.resolve(host, repo).rule?.name ?? null;

test('every example is covered here', () => {
  const files = readdirSync(DIR)
    .filter((f) => /^policy-.*\.yaml$/.test(f))
    .sort();
  assert.deepEqual(files, ['policy-basic.yaml', 'policy-rollout.yaml', 'policy-threshold.yaml']);
});

describe('policy-basic.yaml', () => {
  const p = load('policy-basic.yaml');
  test('resolution', () => {
    assert.equal(ruleFor(p, 'ghcr.io', 'acme/api'), 'acme');
    assert.equal(ruleFor(p, 'ghcr.io', 'acme/tools/lint'), 'acme');
    assert.equal(ruleFor(p, 'docker.io', 'busybox'), 'busybox');
    assert.equal(ruleFor(p, 'index.docker.io', 'library/busybox'), 'busybox');
    assert.equal(ruleFor(p, 'quay.io', 'anything'), null);
  });
  test('decisions', () => {
    const acme = p.resolve('ghcr.io', 'acme/api');
    assert.equal(
      p.evaluate(acme, [{ format: 'bundle', source: 's', verified: true, signers: ['release'] }], { digest: DIGEST })
        .allow,
      true,
    );
    assert.equal(p.evaluate(acme, [], { digest: DIGEST }).allow, false);
    assert.equal(
      p.decideWithoutSignatures(p.resolve('docker.io', 'busybox'), { digest: DIGEST })?.outcome,
      'unsigned-allowed',
    );
    assert.equal(p.decideWithoutSignatures(p.resolve('quay.io', 'anything'), { digest: DIGEST })?.allow, false);
  });
});

describe('policy-threshold.yaml', () => {
  const p = load('policy-threshold.yaml');
  test('most specific pattern wins', () => {
    assert.equal(ruleFor(p, 'registry.example.com', 'prod/payments'), 'payments');
    assert.equal(ruleFor(p, 'registry.example.com', 'prod/web'), 'prod');
    assert.equal(ruleFor(p, 'registry.example.com', 'dev/web'), 'everything-internal');
    assert.equal(ruleFor(p, 'registry.example.com', 'prod/a/b'), 'everything-internal');
  });
  test('the inline key is loaded', () => assert.equal(p.keys.security?.algorithm, 'ecdsa-p256'));
  test('prod: two distinct keys including release, env=prod, bound to the repository', () => {
    const res = p.resolve('registry.example.com', 'prod/web');
    const sig = (signer: string, extra = {}) => ({
      format: 'legacy' as const,
      source: `${signer} sig`,
      verified: true,
      signers: [signer],
      annotations: { env: 'prod' },
      dockerReference: 'registry.example.com/prod/web',
      ...extra,
    });
    assert.equal(p.evaluate(res, [sig('release'), sig('security')], { digest: DIGEST }).allow, true);
    assert.equal(p.evaluate(res, [sig('ci'), sig('security')], { digest: DIGEST }).outcome, 'required-signer-missing');
    assert.equal(p.evaluate(res, [sig('release'), sig('release')], { digest: DIGEST }).outcome, 'threshold-not-met');
    assert.equal(
      p.evaluate(res, [sig('release'), sig('ci', { dockerReference: 'registry.example.com/dev/web' })], {
        digest: DIGEST,
      }).allow,
      false,
    );
    assert.equal(
      p.evaluate(res, [sig('release'), sig('ci', { annotations: { env: 'dev' } })], { digest: DIGEST }).allow,
      false,
    );
  });
});

describe('policy-rollout.yaml', () => {
  const p = load('policy-rollout.yaml');
  test('resolution', () => {
    assert.equal(ruleFor(p, 'ghcr.io', 'acme/app'), 'acme-multiarch');
    assert.equal(ruleFor(p, 'ghcr.io', 'acme/base-debian'), 'acme-per-platform');
    assert.equal(ruleFor(p, 'quay.io', 'vendor/x/y'), 'vendor-trial');
    assert.equal(ruleFor(p, 'docker.io', 'ubuntu'), 'blocked');
    assert.equal(ruleFor(p, 'cdn.example.net', 'a/b'), 'blocked');
  });
  test('decisions', () => {
    const d = (host: string, repo: string, kind: 'index' | 'child' | 'single' = 'single') =>
      p.decideWithoutSignatures(p.resolve(host, repo), { digest: DIGEST, kind });
    assert.equal(d('ghcr.io', 'acme/app')?.outcome, 'index-only');
    assert.equal(d('ghcr.io', 'acme/app', 'child')?.allow, true);
    assert.equal(d('ghcr.io', 'acme/base-debian', 'index')?.outcome, 'index-pass-through');
    assert.equal(d('docker.io', 'ubuntu')?.allow, false);
    const unmatched = d('docker.io', 'alpine');
    assert.equal(unmatched?.allow, true);
    assert.equal(unmatched?.wouldDeny, true);
    const trial = p.evaluate(p.resolve('quay.io', 'vendor/tool'), [], { digest: DIGEST });
    assert.equal(trial.allow, true);
    assert.equal(trial.wouldDeny, true);
  });
});
