// Sigstore bundles: the real cosign v3 keyless bundle (parsed here; verified in verify-keyless tests) and key-signed bundles made with
// src/sign (the vector collection has no real key-signed bundle).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { digestOf, type Digest } from '../../src/oci/digest.ts';
import {
  dssePae,
  parseBundle,
  parseInTotoStatement,
  parsePublicKey,
  verifyMessage,
  verifySignature,
} from '../../src/verify/index.ts';
import type { TrustedKey, UntrustedBundle, VerifyContext } from '../../src/verify/types.ts';
import { buildDsseBundle, cosignSignStatement } from '../../src/sign/bundle.ts';
import { publicKeyPem } from '../../src/sign/signer.ts';

const REAL = readFileSync(new URL('../fixtures/cosign-v3-sign-bundle/bundle.sigstore.json', import.meta.url));
const REAL_DIGEST = 'sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172' as Digest;
const IMAGE = digestOf(Buffer.from('an image manifest'));
const OTHER = digestOf(Buffer.from('another image manifest'));

const asBundle = (bundle: Uint8Array, source = 'test referrer'): UntrustedBundle => ({
  format: 'bundle',
  source,
  manifestDigest: digestOf(Buffer.from('referrer manifest')),
  bundle,
});

function testKey(
  type: 'ec' | 'ed25519' | 'rsa',
  opts: object = { namedCurve: 'P-256' },
): { priv: KeyObject; trusted: TrustedKey } {
  const { privateKey } =
    type === 'ec'
      ? generateKeyPairSync('ec', opts as { namedCurve: string })
      : type === 'rsa'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519');
  return { priv: privateKey, trusted: parsePublicKey(`${type}-key`, publicKeyPem(privateKey)) };
}

describe('real cosign v3 keyless bundle (cosign-v3-sign-bundle)', () => {
  const parsed = parseBundle(REAL);

  test('parses: v0.3, certificate, one DSSE signature, one tlog entry, one RFC 3161 timestamp', () => {
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.problem);
    const b = parsed.value;
    assert.equal(b.version, '0.3');
    assert.equal(b.material.kind, 'certificate');
    assert.equal(b.tlogEntries, 1);
    assert.equal(b.rfc3161Timestamps, 1);
    assert.equal(b.content.kind, 'dsse');
  });

  test("the DSSE signature verifies over our PAE with the leaf certificate's key (proves the PAE bytes)", () => {
    assert.ok(parsed.ok && parsed.value.content.kind === 'dsse');
    const env = parsed.value.content.envelope;
    const raw = JSON.parse(REAL.toString('utf8')) as { verificationMaterial: { certificate: { rawBytes: string } } };
    const leaf = new X509Certificate(Buffer.from(raw.verificationMaterial.certificate.rawBytes, 'base64'));
    const leafKey = parsePublicKey('leaf', leaf.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const [sig] = env.signatures;
    assert.ok(sig !== undefined);
    assert.equal(verifyMessage(leafKey, dssePae(env.payloadType, env.payload), sig.sig), 'ecdsa-sha256-der');
    assert.equal(
      verifyMessage(leafKey, dssePae(env.payloadType, Buffer.concat([env.payload, Buffer.from(' ')])), sig.sig),
      undefined,
    );
  });

  test('statement: Statement v1, subject digest is the image, predicateType is cosign sign', () => {
    assert.ok(parsed.ok && parsed.value.content.kind === 'dsse');
    const st = parseInTotoStatement(parsed.value.content.envelope.payload);
    assert.ok(st.ok, st.ok ? '' : st.problem);
    assert.equal(st.value.type, 'https://in-toto.io/Statement/v1');
    assert.equal(st.value.predicateType, 'https://sigstore.dev/cosign/sign/v1');
    assert.deepEqual(
      st.value.subjects.map((s) => s.digest),
      [{ sha256: REAL_DIGEST.slice(7) }],
    );
  });

  test('verifySignature without identities: not verified (a keyless signature needs `identities:`), even when the leaf key is trusted', () => {
    const raw = JSON.parse(REAL.toString('utf8')) as { verificationMaterial: { certificate: { rawBytes: string } } };
    const leaf = new X509Certificate(Buffer.from(raw.verificationMaterial.certificate.rawBytes, 'base64'));
    const leafKey = parsePublicKey('leaf', leaf.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    for (const keys of [[], [leafKey]]) {
      const r = verifySignature(asBundle(REAL), { digest: REAL_DIGEST, keys });
      assert.equal(r.verified, false);
      assert.equal(r.reason, 'unknown-key');
      assert.deepEqual(r.signers, []);
      assert.match(r.message ?? '', /keyless.*no certificate identities/);
      assert.deepEqual(r.notEvaluated, ['certificate', 'tlog-entries', 'rfc3161-timestamp']);
    }
  });
});

describe('key-signed bundles made by src/sign', () => {
  const { priv, trusted } = testKey('ec');
  const ctx: VerifyContext = { digest: IMAGE, keys: [trusted] };

  test('a cosign-sign statement signed with a trusted key verifies; annotations are the subject annotations', () => {
    const bundle = buildDsseBundle({
      statement: cosignSignStatement({ digest: IMAGE, annotations: { env: 'prod' } }),
      privateKey: priv,
    });
    const r = verifySignature(asBundle(bundle), ctx);
    assert.equal(r.verified, true, r.message);
    assert.deepEqual(r.signers, ['ec-key']);
    assert.deepEqual(r.annotations, { env: 'prod' });
    assert.equal(r.format, 'bundle');
    assert.equal(r.notEvaluated, undefined);
  });

  for (const [name, k] of [
    ['P-384', testKey('ec', { namedCurve: 'P-384' })],
    ['P-521', testKey('ec', { namedCurve: 'P-521' })],
    ['RSA-2048', testKey('rsa')],
    ['Ed25519', testKey('ed25519')],
  ] as const) {
    test(`${name} key-signed bundle verifies`, () => {
      const bundle = buildDsseBundle({ statement: cosignSignStatement({ digest: IMAGE }), privateKey: k.priv });
      const r = verifySignature(asBundle(bundle), { digest: IMAGE, keys: [trusted, k.trusted] });
      assert.equal(r.verified, true, r.message);
      assert.deepEqual(r.signers, [k.trusted.name]);
    });
  }

  test('Statement v0.1 (cosign attest) is accepted too', () => {
    const bundle = buildDsseBundle({
      statement: cosignSignStatement({ digest: IMAGE, statementType: 'https://in-toto.io/Statement/v0.1' }),
      privateKey: priv,
    });
    assert.equal(verifySignature(asBundle(bundle), ctx).verified, true);
  });

  test('another predicate type (an SBOM attestation) -> wrong-predicate naming the type', () => {
    const statement = cosignSignStatement({ digest: IMAGE, predicateType: 'https://spdx.dev/Document' });
    const r = verifySignature(asBundle(buildDsseBundle({ statement, privateKey: priv })), ctx);
    assert.equal(r.verified, false);
    assert.equal(r.reason, 'wrong-predicate');
    assert.match(r.message ?? '', /https:\/\/spdx\.dev\/Document/);
  });

  test('subject for another digest -> digest-mismatch naming both', () => {
    const r = verifySignature(
      asBundle(buildDsseBundle({ statement: cosignSignStatement({ digest: OTHER }), privateKey: priv })),
      ctx,
    );
    assert.equal(r.reason, 'digest-mismatch');
    assert.ok(r.message?.includes(OTHER) && r.message.includes(IMAGE), r.message);
  });

  test('tampered statement: bad-signature (the hint names the trusted key); without a hint: unknown-key', () => {
    const good = JSON.parse(
      Buffer.from(buildDsseBundle({ statement: cosignSignStatement({ digest: IMAGE }), privateKey: priv })).toString(
        'utf8',
      ),
    );
    const forged = cosignSignStatement({ digest: IMAGE, annotations: { env: 'prod' } });
    good.dsseEnvelope.payload = Buffer.from(forged).toString('base64');
    const r = verifySignature(asBundle(Buffer.from(JSON.stringify(good))), ctx);
    assert.equal(r.reason, 'bad-signature');
    assert.match(r.message ?? '', /ec-key/);
    delete good.verificationMaterial.publicKey.hint;
    assert.equal(verifySignature(asBundle(Buffer.from(JSON.stringify(good))), ctx).reason, 'unknown-key');
  });

  test('tampered signature fails; a bundle signed by an untrusted key is unknown-key', () => {
    const good = JSON.parse(
      Buffer.from(buildDsseBundle({ statement: cosignSignStatement({ digest: IMAGE }), privateKey: priv })).toString(
        'utf8',
      ),
    );
    const sig = Buffer.from(good.dsseEnvelope.signatures[0].sig, 'base64');
    sig[sig.length - 1] = (sig[sig.length - 1] ?? 0) ^ 1;
    good.dsseEnvelope.signatures[0].sig = sig.toString('base64');
    assert.equal(verifySignature(asBundle(Buffer.from(JSON.stringify(good))), ctx).reason, 'bad-signature');
    const stranger = testKey('ec');
    const other = buildDsseBundle({ statement: cosignSignStatement({ digest: IMAGE }), privateKey: stranger.priv });
    assert.equal(verifySignature(asBundle(other), ctx).reason, 'unknown-key');
  });

  test('tlog entries / timestamps on a key-signed bundle: signature verified, tlog reported as not evaluated', () => {
    const b = JSON.parse(
      Buffer.from(buildDsseBundle({ statement: cosignSignStatement({ digest: IMAGE }), privateKey: priv })).toString(
        'utf8',
      ),
    );
    b.verificationMaterial.tlogEntries = [{ logIndex: '1' }];
    b.verificationMaterial.timestampVerificationData = { rfc3161Timestamps: [{ signedTimestamp: 'AA==' }] };
    const r = verifySignature(asBundle(Buffer.from(JSON.stringify(b))), ctx);
    assert.equal(r.verified, true, r.message);
    assert.deepEqual(r.notEvaluated, ['tlog-entries', 'rfc3161-timestamp']);
  });

  test('media types: v0.1/v0.2/v0.3 accepted, v0.4 and v1.0 unsupported, others malformed', () => {
    const b = JSON.parse(
      Buffer.from(buildDsseBundle({ statement: cosignSignStatement({ digest: IMAGE }), privateKey: priv })).toString(
        'utf8',
      ),
    );
    const cases: [string, string | true][] = [
      ['application/vnd.dev.sigstore.bundle+json;version=0.1', true],
      ['application/vnd.dev.sigstore.bundle+json;version=0.2', true],
      ['application/vnd.dev.sigstore.bundle+json;version=0.3', true],
      ['application/vnd.dev.sigstore.bundle.v0.3+json', true],
      ['application/vnd.dev.sigstore.bundle.v0.4+json', 'unsupported'],
      ['application/vnd.dev.sigstore.bundle+json;version=0.4', 'unsupported'],
      ['application/vnd.dev.sigstore.bundle.v1.0+json', 'unsupported'],
      ['application/vnd.dev.sigstore.bundle.v0.2+json', 'malformed'],
      ['application/vnd.dev.sigstore.bundle+json;version=0.0', 'malformed'],
      ['application/json', 'malformed'],
    ];
    for (const [mediaType, expected] of cases) {
      const r = verifySignature(asBundle(Buffer.from(JSON.stringify({ ...b, mediaType }))), ctx);
      if (expected === true) assert.equal(r.verified, true, `${mediaType}: ${r.message}`);
      else assert.equal(r.reason, expected, mediaType);
    }
  });
});
