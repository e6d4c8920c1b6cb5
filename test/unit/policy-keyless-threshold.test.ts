// A threshold counts distinct signers. For certificate signatures the signer is the certificate's identity (issuer
// and subject names), not the policy identities that accept it: one certificate matched by two identities, or two
// certificates of one person, are one signer. Real signatures from the test sigstore, verified and then decided.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml, policySource } from '../../src/config/parse.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import type { CompiledPolicy, Decision } from '../../src/policy/types.ts';
import { digestOf } from '../../src/oci/digest.ts';
import { MT } from '../../src/oci/mediatypes.ts';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { verifySignature } from '../../src/verify/index.ts';
import type { SignatureCheck } from '../../src/verify/types.ts';
import { createTestSigstore } from '../helpers/test-sigstore.ts';

const ss = createTestSigstore();
const DIGEST = digestOf(Buffer.from('an image manifest'));
const ISSUER = 'https://accounts.google.com';

const YAML = `
trust:
  roots:
    test: { trustedRoot: /root.json }
policy:
  policies:
    - name: two-people
      match: ["registry.example.com/team/**"]
      threshold: 2
      identities:
        - { name: alice, issuer: "${ISSUER}", subject: alice@example.com }
        - { name: anyone-at-example, issuer: "${ISSUER}", subjectRegExp: "@example\\\\.com$" }
        - { name: bob, issuer: "${ISSUER}", subject: bob@example.com }
`;

function compile(): CompiledPolicy {
  const { raw, problems } = parseYaml(YAML);
  const p = compilePolicy(policySource(raw), problems, {
    readKeyFile: (f) => (f === '/root.json' ? ss.trustedRootJson : new Error(`file not found: ${f}`)),
  });
  assert.ok(p, problems.list.map((x) => `${x.path}: ${x.message}`).join('\n'));
  return p;
}

const policy = compile();

function signedBy(identity: string, n: number): SignatureCheck {
  const payload = simpleSigningPayload({ dockerReference: `registry.example.com/team/app#${n}`, digest: DIGEST });
  const sig = ss.signLegacy({ payload, identity }); // an email identity gets Google's issuer
  const res = policy.resolve('registry.example.com', 'team/app');
  const rule = res.rule;
  assert.ok(rule?.kind === 'signed');
  return verifySignature(
    {
      format: 'legacy',
      source: `layer ${n}`,
      layerDigest: digestOf(payload),
      layerMediaType: MT.cosignSimpleSigning,
      annotations: sig.annotations,
      payload,
    },
    { digest: DIGEST, keys: rule.keys, identities: rule.identities, identityTlog: rule.identityTlog },
  );
}

function decide(checks: SignatureCheck[]): Decision {
  return policy.evaluate(policy.resolve('registry.example.com', 'team/app'), checks, { digest: DIGEST });
}

describe('threshold over certificate signers', () => {
  test('one certificate accepted by two identities is one signer: threshold 2 not met', () => {
    const check = signedBy('alice@example.com', 1);
    assert.equal(check.verified, true, check.message);
    assert.deepEqual([...check.signers].sort(), ['alice', 'anyone-at-example']);
    const d = decide([check]);
    assert.equal(d.outcome, 'threshold-not-met');
    assert.equal(d.allow, false);
  });

  test('two certificates of the same person are one signer', () => {
    const d = decide([signedBy('alice@example.com', 1), signedBy('alice@example.com', 2)]);
    assert.equal(d.outcome, 'threshold-not-met');
  });

  test('two people meet it', () => {
    const d = decide([signedBy('alice@example.com', 1), signedBy('bob@example.com', 2)]);
    assert.equal(d.outcome, 'verified', d.message);
    assert.deepEqual(d.signers, ['alice', 'anyone-at-example', 'bob']);
  });
});
