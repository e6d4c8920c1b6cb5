// The in-process test sigstore (test/helpers/test-sigstore.ts) makes material the sigstore project's own verifier
// (@sigstore/verify) accepts, and every tampering the tests rely on is rejected by that verifier. Legacy `.sig`
// annotations are checked piece by piece and, converted to a v0.1 bundle here, by the same verifier.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, verify, X509Certificate } from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { RFC3161Timestamp, X509Certificate as SigstoreCert } from '@sigstore/core';
import { PublicKeyDetails, TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, VerificationError, Verifier, type VerifierOptions } from '@sigstore/verify';
import { digestOf } from '../../src/oci/digest.ts';
import { cosignSignStatement } from '../../src/sign/bundle.ts';
import { publicKeyPem } from '../../src/sign/signer.ts';
import {
  createTestCa,
  createTestSigstore,
  mergeTrustedRoots,
  TRUSTED_ROOT_MEDIA_TYPE,
  type LegacySignature,
} from '../helpers/test-sigstore.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON, read and altered by member name
type LooseJson = Record<string, any>;

const ss = createTestSigstore();
const other = createTestSigstore();
const GH = 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0';
const EMAIL = 'dev@example.com';
const statement = cosignSignStatement({ digest: digestOf(Buffer.from('an image manifest')) });
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

function verifyJson(
  bundle: string | LooseJson,
  root = ss.trustedRootJson,
  opts: VerifierOptions = {},
  artifact?: Buffer,
) {
  const json = typeof bundle === 'string' ? JSON.parse(bundle) : bundle;
  const trust = toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(root)), (hint) => {
    if (hint !== 'key') throw new Error(`no key ${hint}`);
    return { publicKey: legacyKey.publicKey, validFor: () => true };
  });
  return new Verifier(trust, opts).verify(toSignedEntity(bundleFromJSON(json), artifact));
}
const rejects = (code: string, fn: () => unknown): void =>
  assert.throws(fn, (e: unknown) => e instanceof VerificationError && e.code === code);

/** The legacy annotations as a v0.1 bundle (message signature, Rekor hashedrekord entry with only its SET). */
function legacyAsBundle(l: LegacySignature, payload: Uint8Array): LooseJson {
  const rb = JSON.parse(l.annotations['dev.sigstore.cosign/bundle']!);
  const ts = l.annotations['dev.sigstore.cosign/rfc3161timestamp'];
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    verificationMaterial: {
      ...(l.cert ? { x509CertificateChain: { certificates: [{ rawBytes: b64(l.cert.certDer) }] } } : {}),
      ...(l.cert ? {} : { publicKey: { hint: 'key' } }),
      tlogEntries: [
        {
          logIndex: String(rb.Payload.logIndex),
          logId: { keyId: b64(Buffer.from(rb.Payload.logID, 'hex')) },
          kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
          integratedTime: String(rb.Payload.integratedTime),
          inclusionPromise: { signedEntryTimestamp: rb.SignedEntryTimestamp },
          canonicalizedBody: rb.Payload.body,
        },
      ],
      ...(ts
        ? {
            timestampVerificationData: {
              rfc3161Timestamps: [{ signedTimestamp: JSON.parse(ts).SignedRFC3161Timestamp }],
            },
          }
        : {}),
    },
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(payload).digest('base64') },
      signature: l.annotations['dev.cosignproject.cosign/signature'],
    },
  };
}
const legacyKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });

describe('trusted root', () => {
  test('one Fulcio CA (intermediate, root), CT log, Rekor log and TSA, keyed and dated as sigstore does', () => {
    const json = JSON.parse(ss.trustedRootJson);
    assert.equal(json.mediaType, TRUSTED_ROOT_MEDIA_TYPE);
    const root = TrustedRoot.fromJSON(json);
    assert.deepEqual(
      [root.certificateAuthorities.length, root.ctlogs.length, root.tlogs.length, root.timestampAuthorities.length],
      [1, 1, 1, 1],
    );
    for (const log of [...root.tlogs, ...root.ctlogs]) {
      assert.equal(log.publicKey?.keyDetails, PublicKeyDetails.PKIX_ECDSA_P256_SHA_256);
      const spki = Buffer.from(log.publicKey.rawBytes!);
      assert.deepEqual(Buffer.from(log.logId!.keyId), createHash('sha256').update(spki).digest());
      assert.ok(log.publicKey.validFor!.start! < ss.now);
    }
    assert.equal(root.tlogs[0]!.logId!.keyId.toString('hex'), ss.rekor.logIdHex);
    const [int, ca] = root.certificateAuthorities[0]!.certChain!.certificates.map(
      (c) => new X509Certificate(c.rawBytes),
    );
    assert.ok(int!.ca && ca!.ca && int!.checkIssued(ca!) && int!.verify(ca!.publicKey) && ca!.verify(ca!.publicKey));
    assert.ok(root.certificateAuthorities[0]!.validFor!.start! < ss.now);
    const [tsaLeaf, tsaRoot] = root.timestampAuthorities[0]!.certChain!.certificates.map(
      (c) => new X509Certificate(c.rawBytes),
    );
    assert.ok(!tsaLeaf!.ca && tsaLeaf!.keyUsage?.includes('1.3.6.1.5.5.7.3.8') && tsaLeaf!.verify(tsaRoot!.publicKey));
  });
});

describe('signBundle: accepted by @sigstore/verify', () => {
  test('Rekor v1 dsse entry (SET, inclusion proof, checkpoint) and SCT; identity and issuer as Fulcio writes them', () => {
    const b = ss.signBundle({
      statement,
      identity: GH,
      issue: { github: { repository: 'acme/app', ref: 'refs/tags/v1.0.0' } },
    });
    assert.equal(b.bundle.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
    assert.deepEqual(Object.keys(b.bundle.verificationMaterial), ['certificate', 'tlogEntries']);
    const entry = b.bundle.verificationMaterial.tlogEntries[0];
    assert.deepEqual(entry.kindVersion, { kind: 'dsse', version: '0.0.1' });
    assert.ok(entry.inclusionProof.hashes.length >= 2, 'the proof has inner and border hashes');
    assert.equal(Buffer.from(b.bundle.dsseEnvelope.payload, 'base64').toString(), Buffer.from(statement).toString());
    const signer = verifyJson(b.json, ss.trustedRootJson, { ctlogThreshold: 1, tlogThreshold: 1 });
    assert.equal(signer.identity?.subjectAlternativeName, GH);
    assert.equal(signer.identity?.extensions?.issuer, 'https://token.actions.githubusercontent.com');
    const repo = signer.identity?.oids?.find((o) => o.oid?.id.join('.') === '1.3.6.1.4.1.57264.1.5');
    assert.equal(Buffer.from(repo!.value).toString(), 'acme/app');
  });

  test('with an RFC 3161 timestamp, and with the timestamp alone (no tlog)', () => {
    verifyJson(ss.signBundle({ statement, identity: EMAIL, tsa: true }).json, ss.trustedRootJson, {
      timestampThreshold: 2,
    });
    const tsaOnly = ss.signBundle({ statement, identity: EMAIL, tsa: true, tlog: false });
    assert.equal(tsaOnly.bundle.verificationMaterial.tlogEntries, undefined);
    const signer = verifyJson(tsaOnly.json, ss.trustedRootJson, { tlogThreshold: 0 });
    assert.equal(signer.identity?.subjectAlternativeName, EMAIL);
    assert.equal(signer.identity?.extensions?.issuer, 'https://accounts.google.com');
  });

  test('issuer from either extension (.1 raw or .8 UTF8String); an injected clock far from now', () => {
    for (const issuerOids of ['v1', 'v2'] as const) {
      const b = ss.signBundle({ statement, identity: GH, issue: { issuerOids, issuer: 'https://issuer.test' } });
      assert.equal(verifyJson(b.json).identity?.extensions?.issuer, 'https://issuer.test');
    }
    const past = createTestSigstore({ now: new Date('2024-05-01T12:00:00.750Z') });
    const b = past.signBundle({ statement, identity: GH, tsa: true });
    assert.equal(b.cert.notBefore.toISOString(), '2024-05-01T11:59:00.000Z');
    assert.equal(b.cert.notAfter.toISOString(), '2024-05-01T12:09:00.000Z');
    assert.equal(b.rekor?.integratedTime, Date.parse('2024-05-01T12:00:00Z') / 1000);
    assert.equal(RFC3161Timestamp.parse(b.timestamp!).signingTime.toISOString(), '2024-05-01T12:00:00.000Z');
    verifyJson(b.json, past.trustedRootJson, { timestampThreshold: 2 });
  });

  test('a merged trusted root accepts bundles of both sigstores', () => {
    const merged = mergeTrustedRoots(ss.trustedRootJson, other.trustedRootJson);
    verifyJson(ss.signBundle({ statement, identity: GH }).json, merged);
    verifyJson(other.signBundle({ statement, identity: GH }).json, merged);
  });
});

describe('signBundle: tamperings @sigstore/verify rejects', () => {
  test('a bundle of another sigstore (leaf chains to another root)', () => {
    rejects('CERTIFICATE_ERROR', () => verifyJson(other.signBundle({ statement, identity: GH }).json));
  });

  test('a tampered SET, or a SET signed by another log key', () => {
    const b = ss.signBundle({ statement, identity: GH });
    const set = Buffer.from(
      b.bundle.verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp,
      'base64',
    );
    set[set.length - 3]! ^= 0x01;
    b.bundle.verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp = b64(set);
    rejects('TLOG_INCLUSION_PROMISE_ERROR', () => verifyJson(b.bundle));
    const e = b.rekor!;
    const forged = ss.rekor.signSet(
      { body: e.body, integratedTime: e.integratedTime, logIndex: e.logIndex },
      other.rekor.privateKey,
    );
    b.bundle.verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp = b64(forged);
    rejects('TLOG_INCLUSION_PROMISE_ERROR', () => verifyJson(b.bundle));
    // Re-signed by the right key, the SET is good again: tests can re-sign entries they alter.
    const resigned = ss.rekor.signSet({ body: e.body, integratedTime: e.integratedTime, logIndex: e.logIndex });
    b.bundle.verificationMaterial.tlogEntries[0].inclusionPromise.signedEntryTimestamp = b64(resigned);
    verifyJson(b.bundle);
  });

  test('a tampered inclusion proof hash, or a checkpoint signed by another key', () => {
    const b = ss.signBundle({ statement, identity: GH });
    const proof = b.bundle.verificationMaterial.tlogEntries[0].inclusionProof;
    const saved = proof.hashes[0];
    proof.hashes[0] = b64(createHash('sha256').update('not a sibling').digest());
    rejects('TLOG_INCLUSION_PROOF_ERROR', () => verifyJson(b.bundle));
    proof.hashes[0] = saved;
    const p = b.rekor!.proof;
    proof.checkpoint.envelope = ss.rekor.checkpoint(p.treeSize, p.rootHash, other.rekor.privateKey);
    rejects('TLOG_INCLUSION_PROOF_ERROR', () => verifyJson(b.bundle));
  });

  test('a tampered DSSE payload: the tlog body no longer matches, and without a tlog the signature fails', () => {
    const altered = Buffer.from(statement.toString().replace('"sha256":"', '"sha256":"0'));
    const b = ss.signBundle({ statement, identity: GH });
    b.bundle.dsseEnvelope.payload = b64(altered);
    rejects('TLOG_BODY_ERROR', () => verifyJson(b.bundle));
    const t = ss.signBundle({ statement, identity: GH, tlog: false, tsa: true });
    t.bundle.dsseEnvelope.payload = b64(altered);
    rejects('SIGNATURE_ERROR', () => verifyJson(t.bundle, ss.trustedRootJson, { tlogThreshold: 0 }));
  });

  test('a leaf without SCT fails ctlogThreshold 1 (and is otherwise sound)', () => {
    const b = ss.signBundle({ statement, identity: GH, issue: { sct: false } });
    rejects('CERTIFICATE_ERROR', () => verifyJson(b.json, ss.trustedRootJson, { ctlogThreshold: 1 }));
    verifyJson(b.json, ss.trustedRootJson, { ctlogThreshold: 0 });
  });

  test('an integratedTime or a TSA genTime outside the leaf validity', () => {
    const late = ss.signBundle({ statement, identity: GH, integratedTime: ss.now.getTime() / 1000 + 3600 });
    rejects('CERTIFICATE_ERROR', () => verifyJson(late.json));
    const early = ss.signBundle({
      statement,
      identity: GH,
      tlog: false,
      tsa: true,
      timestampTime: new Date(ss.now.getTime() - 3600_000),
    });
    rejects('CERTIFICATE_ERROR', () => verifyJson(early.json, ss.trustedRootJson, { tlogThreshold: 0 }));
  });

  test('a tampered RFC 3161 token, or one from another TSA', () => {
    const b = ss.signBundle({ statement, identity: GH, tlog: false, tsa: true });
    const tvd = b.bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0];
    const tok = Buffer.from(tvd.signedTimestamp, 'base64');
    tok[tok.length - 3]! ^= 0x01;
    tvd.signedTimestamp = b64(tok);
    rejects('TIMESTAMP_ERROR', () => verifyJson(b.bundle, ss.trustedRootJson, { tlogThreshold: 0 }));
    tvd.signedTimestamp = b64(other.tsa.timestamp(b.signature, ss.now));
    rejects('TIMESTAMP_ERROR', () => verifyJson(b.bundle, ss.trustedRootJson, { tlogThreshold: 0 }));
  });
});

describe('issue: Fulcio-style leaves', () => {
  test('empty subject, critical SAN, keyUsage, codeSigning, issuer extensions in Fulcio form and order, SCT last', () => {
    const c = ss.issue(EMAIL, {
      github: { trigger: 'push', sha: 'abc', workflowName: 'Release', repository: 'acme/app', ref: 'refs/heads/main' },
      githubV2: { sourceRepositoryURI: 'https://github.com/acme/app', runnerEnvironment: 'github-hosted' },
    });
    assert.equal(c.notAfter.getTime() - c.notBefore.getTime(), 600_000);
    const x = new X509Certificate(c.certDer);
    assert.equal(x.subject, '');
    assert.equal(x.subjectAltName, `email:${EMAIL}`);
    assert.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.3']);
    const sc = SigstoreCert.parse(c.certDer);
    const exts = sc.extensions.map((e) => e.subs[0]!.toOID());
    const f = (n: number): string => `1.3.6.1.4.1.57264.1.${n}`;
    assert.deepEqual(exts.slice(5), [
      f(1),
      f(2),
      f(3),
      f(4),
      f(5),
      f(6),
      f(8),
      f(11),
      f(12),
      '1.3.6.1.4.1.11129.2.4.2',
    ]);
    assert.ok(sc.extSubjectAltName!.critical && sc.extension('2.5.29.15')!.critical);
    assert.equal(sc.extension(f(1))!.value.toString(), 'https://accounts.google.com');
    assert.equal(sc.extension(f(4))!.value.toString(), 'Release');
    assert.equal(sc.extension(f(8))!.valueObj.subs[0]!.tag.number, 12, '.8 is a DER UTF8String');
    assert.equal(sc.extension(f(12))!.valueObj.subs[0]!.value.toString(), 'https://github.com/acme/app');
    const [int, root] = c.chainPem.split(/(?<=-----END CERTIFICATE-----\n)/).map((p) => new X509Certificate(p));
    assert.ok(x.checkIssued(int!) && x.verify(int!.publicKey) && int!.verify(root!.publicKey));
    assert.equal(root!.fingerprint256, new X509Certificate(ss.fulcio.root.der).fingerprint256);
  });

  test('options: issuer OIDs v1/v2 only, no EKU, no SCT, explicit notBefore', () => {
    const oids = (o: Parameters<typeof ss.issue>[1]) =>
      SigstoreCert.parse(ss.issue(GH, o).certDer).extensions.map((e) => e.subs[0]!.toOID());
    assert.ok(!oids({ issuerOids: 'v1' }).includes('1.3.6.1.4.1.57264.1.8'));
    assert.ok(!oids({ issuerOids: 'v2' }).includes('1.3.6.1.4.1.57264.1.1'));
    assert.ok(!oids({ eku: false }).includes('2.5.29.37'));
    assert.ok(!oids({ sct: false }).includes('1.3.6.1.4.1.11129.2.4.2'));
    const nb = new Date('2025-01-01T00:00:00Z');
    assert.equal(new X509Certificate(ss.issue(GH, { notBefore: nb }).certDer).validFrom, 'Jan  1 00:00:00 2025 GMT');
  });
});

describe('signLegacy: cosign keyless .sig layer annotations', () => {
  const payload = Buffer.from('{"critical":{"identity":{"docker-reference":"r"}},"optional":null}');

  test('signature over the exact payload with the leaf key; chain intermediate then root', () => {
    const l = ss.signLegacy({ payload, identity: GH });
    const a = l.annotations;
    assert.deepEqual(Object.keys(a), [
      'dev.cosignproject.cosign/signature',
      'dev.sigstore.cosign/certificate',
      'dev.sigstore.cosign/chain',
      'dev.sigstore.cosign/bundle',
    ]);
    const leaf = new X509Certificate(a['dev.sigstore.cosign/certificate']!);
    assert.ok(
      verify('sha256', payload, leaf.publicKey, Buffer.from(a['dev.cosignproject.cosign/signature']!, 'base64')),
    );
    assert.equal(a['dev.sigstore.cosign/chain'], ss.fulcio.intermediate.pem + ss.fulcio.root.pem);
  });

  test('Rekor bundle: Go member order, SET over the canonical payload, hashedrekord body, time within validity', () => {
    const l = ss.signLegacy({ payload, identity: GH });
    const raw = l.annotations['dev.sigstore.cosign/bundle']!;
    const rb = JSON.parse(raw);
    assert.deepEqual(Object.keys(rb), ['SignedEntryTimestamp', 'Payload']);
    assert.deepEqual(Object.keys(rb.Payload), ['body', 'integratedTime', 'logIndex', 'logID']);
    const p = rb.Payload;
    const canonical = `{"body":"${p.body}","integratedTime":${p.integratedTime},"logID":"${p.logID}","logIndex":${p.logIndex}}`;
    const rekorKey = createPublicKey({
      key: Buffer.from(JSON.parse(ss.trustedRootJson).tlogs[0].publicKey.rawBytes, 'base64'),
      format: 'der',
      type: 'spki',
    });
    assert.ok(verify('sha256', Buffer.from(canonical), rekorKey, Buffer.from(rb.SignedEntryTimestamp, 'base64')));
    assert.equal(p.logID, ss.rekor.logIdHex);
    assert.ok(
      p.integratedTime * 1000 >= l.cert!.notBefore.getTime() && p.integratedTime * 1000 <= l.cert!.notAfter.getTime(),
    );
    assert.equal(
      Buffer.from(p.body, 'base64').toString(),
      JSON.stringify({
        apiVersion: '0.0.1',
        kind: 'hashedrekord',
        spec: {
          data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') } },
          signature: {
            content: l.annotations['dev.cosignproject.cosign/signature'],
            publicKey: { content: b64(Buffer.from(l.cert!.certPem)) },
          },
        },
      }),
    );
  });

  test('RFC 3161 annotation over the signature bytes; the whole layer verifies as a bundle (SCT, SET, body, TSA)', () => {
    const l = ss.signLegacy({ payload, identity: EMAIL, tsa: true });
    const ts = JSON.parse(l.annotations['dev.sigstore.cosign/rfc3161timestamp']!);
    assert.deepEqual(Object.keys(ts), ['SignedRFC3161Timestamp']);
    RFC3161Timestamp.parse(Buffer.from(ts.SignedRFC3161Timestamp, 'base64')).verify(
      l.signature,
      new X509Certificate(ss.tsa.signer.der).publicKey,
    );
    verifyJson(legacyAsBundle(l, payload), ss.trustedRootJson, { timestampThreshold: 2 }, payload);
    rejects('CERTIFICATE_ERROR', () =>
      verifyJson(legacyAsBundle(other.signLegacy({ payload, identity: GH }), payload), ss.trustedRootJson, {}, payload),
    );
    const noTlog = ss.signLegacy({ payload, identity: GH, tlog: false });
    assert.equal(noTlog.annotations['dev.sigstore.cosign/bundle'], undefined);
  });

  test('signLegacyWithKey: a key signature in the log (publicKey.content = the public key PEM)', () => {
    const l = ss.signLegacyWithKey({ payload, privateKey: legacyKey.privateKey });
    assert.deepEqual(Object.keys(l.annotations), ['dev.cosignproject.cosign/signature', 'dev.sigstore.cosign/bundle']);
    const body = JSON.parse(
      Buffer.from(JSON.parse(l.annotations['dev.sigstore.cosign/bundle']!).Payload.body, 'base64').toString(),
    );
    assert.equal(
      Buffer.from(body.spec.signature.publicKey.content, 'base64').toString(),
      publicKeyPem(legacyKey.privateKey),
    );
    verifyJson(legacyAsBundle(l, payload), ss.trustedRootJson, {}, payload);
    const bad = legacyAsBundle(l, payload);
    bad.verificationMaterial.tlogEntries[0].integratedTime = String(l.rekor!.integratedTime + 1);
    rejects('TLOG_INCLUSION_PROMISE_ERROR', () => verifyJson(bad, ss.trustedRootJson, {}, payload));
  });
});

describe('createTestCa: private PKI', () => {
  test('long-lived leaves chaining to the root, no Fulcio extensions or SCT', () => {
    const ca = createTestCa();
    const c = ca.issue({ subject: 'https://signer.example/ci' });
    const x = new X509Certificate(c.certPem);
    const int = new X509Certificate(ca.intermediatesPem);
    const root = new X509Certificate(ca.rootsPem);
    assert.ok(x.checkIssued(int) && x.verify(int.publicKey) && int.verify(root.publicKey) && root.ca);
    assert.equal(c.chainPem, ca.intermediatesPem + ca.rootsPem);
    assert.equal(x.subjectAltName, 'URI:https://signer.example/ci');
    assert.ok(c.notAfter.getTime() - c.notBefore.getTime() > 300 * 86_400_000);
    const oids = SigstoreCert.parse(c.certDer).extensions.map((e) => e.subs[0]!.toOID());
    assert.ok(!oids.some((o) => o.startsWith('1.3.6.1.4.1.57264.') || o === '1.3.6.1.4.1.11129.2.4.2'));
    const e = ca.issue({ subject: EMAIL, notBefore: new Date('2020-01-01T00:00:00Z'), eku: false });
    assert.equal(new X509Certificate(e.certPem).subjectAltName, `email:${EMAIL}`);
    assert.equal(new X509Certificate(e.certPem).keyUsage, undefined);
    assert.equal(e.notBefore.toISOString(), '2020-01-01T00:00:00.000Z');
  });
});
