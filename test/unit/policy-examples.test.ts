// The worked examples in config/examples/*.yaml: each is a complete config that the config parser accepts and the
// policy compiler compiles, and each resolves and decides the way its header comment says. The examples' key and CA
// files (keys/*.pub, ca/*.pem: public halves only, their private keys never kept) are replaced here by generated ones
// the test can sign with; other relative paths (the keyless examples' trusted_root.json) are read from the
// repository, resolved against the example's directory as the config loader does. The shipped config/sigward.yaml
// is checked too: its commented-out trust root and keyless policy must compile once uncommented. Each example also
// passes the real `sigward check-config`, with the files it ships.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isAbsolute, resolve } from 'node:path';
import { parseConfigText } from '../../src/config/parse.ts';
import { main } from '../../src/main.ts';
import { digestOf } from '../../src/oci/digest.ts';
import { MT } from '../../src/oci/mediatypes.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { hostNames } from '../../src/policy/hosts.ts';
import type { CompiledPolicy, SignedRule } from '../../src/policy/types.ts';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { identityMismatch, type CertificateIdentity } from '../../src/verify/identity.ts';
import { verifySignature, type SignatureCheck, type TrustedIdentity } from '../../src/verify/index.ts';
import { createTestCa, createTestSigstore } from '../helpers/test-sigstore.ts';

const CONFIG = new URL('../../config/', import.meta.url);
const DIR = new URL('examples/', CONFIG);
const DIGEST = `sha256:${'c'.repeat(64)}`;
const NOW = new Date('2026-01-15T12:00:00Z');
// Each key file path gets its own freshly generated key, each CA path the PEM of one generated CA; unknown absolute
// paths are "not found".
const ca = createTestCa({ now: NOW });
const files = new Map<string, string>([
  [fileURLToPath(new URL('ca/corp-root.pem', DIR)), ca.rootsPem],
  [fileURLToPath(new URL('ca/corp-intermediates.pem', DIR)), ca.intermediatesPem],
]);
for (const name of ['release', 'ci']) {
  files.set(
    fileURLToPath(new URL(`keys/${name}.pub`, DIR)),
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string,
  );
}

function readFrom(base: URL): (p: string) => string | Error {
  return (p) => {
    const full = isAbsolute(p) ? p : resolve(fileURLToPath(base), p);
    const generated = files.get(full);
    if (generated !== undefined) return generated;
    if (isAbsolute(p)) return new Error(`file not found: ${p}`);
    try {
      return readFileSync(full, 'utf8');
    } catch (e) {
      return e as Error;
    }
  };
}

function compile(text: string, base: URL, label: string): CompiledPolicy {
  const parsed = parseConfigText(text);
  assert.deepEqual(parsed.problems, [], `${label}: config sections`);
  assert.ok(parsed.config);
  const hosts = hostNames(parsed.config.upstreams);
  const policy = compilePolicy(parsed.policySource, parsed.collector, { readKeyFile: readFrom(base), hosts });
  assert.deepEqual(parsed.collector.list, [], `${label}: trust and policy sections`);
  assert.ok(policy);
  return policy;
}

const load = (file: string): CompiledPolicy => compile(readFileSync(new URL(file, DIR), 'utf8'), DIR, file);

const ruleFor = (p: CompiledPolicy, host: string, repo: string): string | null =>
  p.resolve(host, repo).rule?.name ?? null;

test('every example is covered here', () => {
  const examples = readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  assert.deepEqual(examples, [
    'keyless-chainguard.yaml',
    'keyless-distroless.yaml',
    'keyless-github-actions.yaml',
    'keyless-kubernetes.yaml',
    'policy-basic.yaml',
    'policy-rollout.yaml',
    'policy-threshold.yaml',
    'private-ca.yaml',
  ]);
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

// ---- keyless and private-CA examples ----

const PUBLIC_GOOD = readFileSync(new URL('sigstore-public-good.trusted_root.json', CONFIG));
const PUBLIC_GOOD_SHA256 = createHash('sha256').update(PUBLIC_GOOD).digest('hex');

function signedRule(p: CompiledPolicy, host: string, repo: string): SignedRule {
  const rule = p.resolve(host, repo).rule;
  assert.ok(rule?.kind === 'signed', `${host}/${repo} should fall under a signed policy`);
  return rule;
}

function identity(rule: SignedRule, name: string): TrustedIdentity {
  const id = rule.identities.find((i) => i.name === name);
  assert.ok(id, `identity ${name} of ${rule.name}`);
  return id;
}

/** What a Fulcio certificate says about its signer (SANs, issuer, workflow claims), as identity.ts reads it. */
const cert = (
  san: string,
  issuer: string | undefined,
  github: CertificateIdentity['github'] = {},
): CertificateIdentity => ({
  names: [{ type: san.includes('://') ? 'uri' : 'email', value: san }],
  ...(issuer === undefined ? {} : { issuer }),
  github,
});

const accepts = (id: TrustedIdentity, c: CertificateIdentity): boolean =>
  identityMismatch(id, c, 'legacy') === undefined && identityMismatch(id, c, 'bundle') === undefined;

const counted = (signers: string[]): SignatureCheck => ({ format: 'bundle', source: 's', verified: true, signers });

describe('config/sigstore-public-good.trusted_root.json', () => {
  test('its sha256 is the one sigstore-public-good.PROVENANCE.md states', () => {
    const provenance = readFileSync(new URL('sigstore-public-good.PROVENANCE.md', CONFIG), 'utf8');
    assert.ok(provenance.includes(PUBLIC_GOOD_SHA256), `PROVENANCE.md should state sha256 ${PUBLIC_GOOD_SHA256}`);
    assert.ok(provenance.includes(`sha256 ${PUBLIC_GOOD_SHA256.slice(0, 12)}`));
  });
});

const GOOGLE = 'https://accounts.google.com';
const ACTIONS = 'https://token.actions.githubusercontent.com';

for (const [file, host, repo, name, subject, issuer] of [
  [
    'keyless-kubernetes.yaml',
    'registry.k8s.io',
    'kube-apiserver',
    'k8s-release',
    'krel-trust@k8s-releng-prod.iam.gserviceaccount.com',
    GOOGLE,
  ],
  [
    'keyless-chainguard.yaml',
    'cgr.dev',
    'chainguard/static',
    'chainguard-release',
    'https://github.com/chainguard-images/images/.github/workflows/release.yaml@refs/heads/main',
    ACTIONS,
  ],
  [
    'keyless-distroless.yaml',
    'gcr.io',
    'distroless/static-debian12',
    'distroless-release',
    'keyless@distroless.iam.gserviceaccount.com',
    GOOGLE,
  ],
] as const) {
  describe(file, () => {
    const p = load(file);
    const rule = signedRule(p, host, repo);
    const id = identity(rule, name);
    test('the shipped public-good root is loaded and is what the identity chains to', () => {
      const root = p.roots['public-good'];
      assert.ok(root);
      assert.equal(root.kind, 'root');
      assert.equal(root.fingerprint, PUBLIC_GOOD_SHA256);
      assert.deepEqual(root.counts, { cas: 2, ctlogs: 2, tlogs: 2, tsas: 1 });
      assert.equal(id.authority, root);
    });
    test('the published identity, exact, with its issuer; a Rekor entry is required', () => {
      assert.deepEqual(id.subject, { exact: subject });
      assert.deepEqual(id.issuer, { exact: issuer });
      assert.equal(rule.identityTlog, true);
      assert.equal(rule.keyTlog, undefined);
      assert.equal(accepts(id, cert(subject, issuer)), true);
      assert.equal(accepts(id, cert(subject, 'https://issuer.example')), false);
      assert.equal(accepts(id, cert(`x${subject}`, issuer)), false);
    });
    test('a signature by the identity allows; none denies', () => {
      const res = p.resolve(host, repo);
      assert.equal(p.evaluate(res, [counted([name])], { digest: DIGEST }).allow, true);
      assert.equal(p.evaluate(res, [], { digest: DIGEST }).allow, false);
    });
  });
}

describe('keyless-kubernetes.yaml: scope', () => {
  const p = load('keyless-kubernetes.yaml');
  test('resolution', () => {
    assert.equal(ruleFor(p, 'registry.k8s.io', 'kube-apiserver'), 'kubernetes-control-plane');
    assert.equal(ruleFor(p, 'registry.k8s.io', 'kube-proxy-arm64'), 'kubernetes-control-plane');
    assert.equal(ruleFor(p, 'registry.k8s.io', 'ingress-nginx/controller'), null);
  });
  test('the binaries identity is not the images one', () => {
    const id = identity(signedRule(p, 'registry.k8s.io', 'kube-apiserver'), 'k8s-release');
    assert.equal(accepts(id, cert('krel-staging@k8s-releng-prod.iam.gserviceaccount.com', GOOGLE)), false);
  });
});

describe('keyless-chainguard.yaml and keyless-distroless.yaml: scope', () => {
  test('resolution', () => {
    const cg = load('keyless-chainguard.yaml');
    assert.equal(ruleFor(cg, 'cgr.dev', 'chainguard/node'), 'chainguard');
    assert.equal(ruleFor(cg, 'cgr.dev', 'acme/node'), null);
    const dl = load('keyless-distroless.yaml');
    assert.equal(ruleFor(dl, 'gcr.io', 'distroless/java21-debian12'), 'distroless');
    assert.equal(ruleFor(dl, 'gcr.io', 'other-project/app'), null);
  });
});

describe('keyless-github-actions.yaml', () => {
  const p = load('keyless-github-actions.yaml');
  const rule = signedRule(p, 'ghcr.io', 'acme/app');
  const main = identity(rule, 'main-branch');
  const tags = identity(rule, 'release-tags');
  const WORKFLOW = 'https://github.com/acme/app/.github/workflows/release.yaml';
  const claims = (ref: string, trigger = 'push') => ({ repository: 'acme/app', ref, trigger });
  test('resolution', () => {
    assert.equal(ruleFor(p, 'ghcr.io', 'acme/app'), 'acme-app');
    assert.equal(ruleFor(p, 'ghcr.io', 'acme/app/debug'), null);
  });
  test('main-branch: the workflow on main, pushed', () => {
    assert.equal(accepts(main, cert(`${WORKFLOW}@refs/heads/main`, ACTIONS, claims('refs/heads/main'))), true);
    assert.equal(accepts(main, cert(`${WORKFLOW}@refs/heads/dev`, ACTIONS, claims('refs/heads/dev'))), false);
    assert.equal(
      accepts(main, cert(`${WORKFLOW}@refs/heads/main`, ACTIONS, claims('refs/heads/main', 'workflow_dispatch'))),
      false,
    );
    // The anchors refuse the same workflow path under another owner, and the issuer must be GitHub Actions'.
    const fork = 'https://github.com/evil/acme/app/.github/workflows/release.yaml@refs/heads/main';
    assert.equal(accepts(main, cert(fork, ACTIONS, claims('refs/heads/main'))), false);
    assert.equal(accepts(main, cert(`${WORKFLOW}@refs/heads/main`, GOOGLE, claims('refs/heads/main'))), false);
  });
  test('release-tags: v<major>.<minor>.<patch> tags only, from acme/app', () => {
    assert.equal(accepts(tags, cert(`${WORKFLOW}@refs/tags/v1.2.3`, ACTIONS, claims('refs/tags/v1.2.3'))), true);
    assert.equal(
      accepts(tags, cert(`${WORKFLOW}@refs/tags/v1.2.3-rc1`, ACTIONS, claims('refs/tags/v1.2.3-rc1'))),
      false,
    );
    const other = { repository: 'evil/app', ref: 'refs/tags/v1.2.3' };
    assert.equal(accepts(tags, cert(`${WORKFLOW}@refs/tags/v1.2.3`, ACTIONS, other)), false);
  });
  test('either identity allows', () => {
    const res = p.resolve('ghcr.io', 'acme/app');
    assert.equal(p.evaluate(res, [counted(['release-tags'])], { digest: DIGEST }).allow, true);
    assert.equal(p.evaluate(res, [counted(['main-branch'])], { digest: DIGEST }).allow, true);
  });
});

describe('private-ca.yaml', () => {
  const p = load('private-ca.yaml');
  const ss = createTestSigstore({ now: NOW });
  const RELEASE = 'https://ci.example.com/pipelines/release';
  const image = digestOf(Buffer.from('{"schemaVersion":2}'));
  /** A legacy `.sig` layer over `image`, signed with a certificate `issuer` gave `subject`, without a log entry. */
  const sign = (subject: string, issuer = ca) => {
    const payload = simpleSigningPayload({ dockerReference: 'registry.example.com/prod/web', digest: image });
    const s = ss.signLegacy({ payload, identity: subject, cert: issuer.issue({ subject }), tlog: false });
    return {
      format: 'legacy' as const,
      source: `layer signed by ${subject}`,
      layerDigest: digestOf(payload),
      layerMediaType: MT.cosignSimpleSigning,
      annotations: s.annotations,
      payload,
    };
  };
  const check = (rule: SignedRule, subject: string, issuer = ca, now = NOW) =>
    verifySignature(sign(subject, issuer), {
      digest: image,
      keys: rule.keys,
      identities: rule.identities,
      identityTlog: rule.identityTlog,
      now,
    });

  test('the CA is loaded from its roots and intermediates', () => {
    const corp = p.cas['corp'];
    assert.ok(corp);
    assert.equal(corp.kind, 'ca');
    assert.deepEqual(corp.counts, { cas: 1, ctlogs: 0, tlogs: 0, tsas: 0 });
  });
  test('resolution', () => {
    assert.equal(ruleFor(p, 'registry.example.com', 'prod/web'), 'internal-prod');
    assert.equal(ruleFor(p, 'registry.example.com', 'dev/web'), 'internal');
  });
  test('internal: a certificate of the CA for the release pipeline verifies and allows', () => {
    const rule = signedRule(p, 'registry.example.com', 'dev/web');
    const ok = check(rule, RELEASE);
    assert.equal(ok.verified, true, ok.message);
    assert.deepEqual(ok.signers, ['release-pipeline']);
    assert.equal(p.evaluate(p.resolve('registry.example.com', 'dev/web'), [ok], { digest: image }).allow, true);
    const other = check(rule, 'https://ci.example.com/pipelines/nightly');
    assert.equal(other.reason, 'wrong-identity', other.message);
    const stranger = check(rule, RELEASE, createTestCa({ now: NOW }));
    assert.equal(stranger.reason, 'untrusted-certificate', stranger.message);
    const later = check(rule, RELEASE, ca, new Date(NOW.getTime() + 2 * 365 * 86_400_000));
    assert.equal(later.reason, 'untrusted-certificate', 'checked at the current time: expired by then');
  });
  test('internal-prod: the release pipeline and a security engineer, distinct', () => {
    const rule = signedRule(p, 'registry.example.com', 'prod/web');
    const res = p.resolve('registry.example.com', 'prod/web');
    const release = check(rule, RELEASE);
    const security = check(rule, 'alice@security.example.com');
    assert.deepEqual(security.signers, ['security-team'], security.message);
    assert.equal(p.evaluate(res, [release, security], { digest: image }).allow, true);
    assert.equal(p.evaluate(res, [release], { digest: image }).outcome, 'threshold-not-met');
    assert.equal(p.evaluate(res, [security, check(rule, 'bob@security.example.com')], { digest: image }).allow, false);
  });
});

describe('config/sigward.yaml (the shipped default)', () => {
  const text = readFileSync(new URL('sigward.yaml', CONFIG), 'utf8');
  test('as shipped: no trust root, no policy (it fails closed)', () => {
    const p = compile(text, CONFIG, 'sigward.yaml');
    assert.deepEqual(Object.keys(p.roots), []);
    assert.equal(p.rules.length, 0);
    assert.equal(p.defaultAction, 'deny');
  });
  test('its commented-out public-good root and keyless policy compile once uncommented', () => {
    const lines = text.split('\n');
    const at = (prefix: string): number => {
      const i = lines.findIndex((l) => l.startsWith(prefix));
      assert.notEqual(i, -1, `sigward.yaml has a line starting ${JSON.stringify(prefix)}`);
      return i;
    };
    // Drop the comment marker, then any trailing comment (a line that was only a comment becomes empty).
    const uncomment = (l: string): string => l.replace(/^(\s*)# ?/, '$1').replace(/\s+# .*$/, '');
    const start = at('  #   - name: our-ci-images');
    const end = lines.findIndex((l, i) => i > start && l.startsWith('  #   - name: '));
    const rule = lines
      .slice(start, end)
      .map(uncomment)
      .filter((l) => l.trim() !== '');
    const edited = lines
      .map((l, i) => {
        if (i === at('  # roots:') || i === at('  #   public-good:')) return uncomment(l);
        if (l === '  policies: []') return ['  policies:', ...rule].join('\n');
        return l;
      })
      .join('\n');
    const p = compile(edited, CONFIG, 'sigward.yaml, uncommented');
    assert.equal(p.roots['public-good']?.fingerprint, PUBLIC_GOOD_SHA256);
    const r = signedRule(p, 'ghcr.io', 'acme/ci/tool');
    assert.deepEqual(
      r.identities.map((i) => i.name),
      ['release-workflow'],
    );
    assert.equal(r.identities[0]?.authority, p.roots['public-good']);
  });
});

describe('sigward check-config on each example as shipped', () => {
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml'))) {
    test(file, async () => {
      const out: string[] = [];
      const err: string[] = [];
      const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env: {} };
      assert.equal(await main(['check-config', fileURLToPath(new URL(file, DIR))], io), 0, err.join('\n'));
      assert.match(out.join('\n'), /: OK/);
    });
  }
});
