// A legacy `.sig` layer's certificate, chain, Rekor bundle and RFC 3161 annotations as legacy-bundle.ts reads them
// (legacyAsBundle, leafCertificate, chainCertificates) and as a user meets them through verifySignature: a well-formed
// layer verifies; each annotation broken in one way is refused with its own reason and a message that names the
// annotation and what is wrong with it, never an exception. Keyless layers under a policy of identities report an
// unreadable annotation as `malformed`; key signatures that must be logged (keyTlog) report it the same way.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { digestOf } from '../../src/oci/digest.ts';
import { MT } from '../../src/oci/mediatypes.ts';
import { ANNOTATION, parsePublicKey, verifySignature } from '../../src/verify/index.ts';
import { parseTrustedRoot, privateCa } from '../../src/verify/authority.ts';
import { chainCertificates, leafCertificate, legacyAsBundle } from '../../src/verify/legacy-bundle.ts';
import type { TrustedIdentity, UntrustedLegacySignature, VerifyContext } from '../../src/verify/types.ts';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { publicKeyPem, signBytes } from '../../src/sign/signer.ts';
import { must } from '../helpers/must.ts';
import { createTestCa, createTestSigstore, rekorBundleAnnotation } from '../helpers/test-sigstore.ts';
import { pem } from '../helpers/test-sigstore-der.ts';
import { refused, verified } from '../helpers/verdicts.ts';

const NOW = new Date('2025-06-01T12:00:00Z');
const ss = createTestSigstore({ now: NOW });
const ROOT = parseTrustedRoot('test', ss.trustedRootJson);
const IMAGE = digestOf(Buffer.from('{"schemaVersion":2,"name":"acme/legacy"}'));
const PAYLOAD = simpleSigningPayload({ dockerReference: 'registry.test/acme/legacy', digest: IMAGE });
const GH = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
const RELEASE: TrustedIdentity = {
  name: 'release',
  authority: ROOT,
  subject: { exact: GH },
  issuer: { exact: 'https://token.actions.githubusercontent.com' },
  github: {},
};
const keyless = (over: Partial<VerifyContext> = {}): VerifyContext => ({
  digest: IMAGE,
  keys: [],
  identities: [RELEASE],
  ...over,
});
const releaseKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const RELEASE_KEY = parsePublicKey('release-key', publicKeyPem(releaseKey));
const keyTlog: VerifyContext = { digest: IMAGE, keys: [RELEASE_KEY], keyTlog: ROOT };

const b64 = (b: Uint8Array | string): string => Buffer.from(b).toString('base64');

function layer(annotations: Record<string, string>): UntrustedLegacySignature {
  return {
    format: 'legacy',
    source: 'minted .sig layer',
    layerDigest: digestOf(PAYLOAD),
    layerMediaType: MT.cosignSimpleSigning,
    annotations,
    payload: PAYLOAD,
  };
}

// One keyless layer (logged, timestamped) and one key-signed logged layer; every case replaces one annotation.
const signed = ss.signLegacy({ payload: PAYLOAD, identity: GH, tsa: true });
const entry = must(signed.rekor, "the keyless layer's log entry");
const cert = must(signed.cert, "the keyless layer's certificate");
const timestamp = must(signed.timestamp, "the keyless layer's timestamp");
const byKey = ss.signLegacyWithKey({ payload: PAYLOAD, privateKey: releaseKey });

/** The Rekor bundle annotation of the keyless layer as a JSON tree, to alter member by member. */
const goodRekor = (): { SignedEntryTimestamp: unknown; Payload: Record<string, unknown> } => ({
  SignedEntryTimestamp: b64(entry.set),
  Payload: {
    body: b64(entry.body),
    integratedTime: entry.integratedTime,
    logIndex: entry.logIndex,
    logID: entry.logIdHex,
  },
});
const rekorWith = (payload: Record<string, unknown>): string =>
  JSON.stringify({ ...goodRekor(), Payload: { ...goodRekor().Payload, ...payload } });
const rekorWithout = (member: string): string => {
  const p = goodRekor().Payload;
  delete p[member];
  return JSON.stringify({ ...goodRekor(), Payload: p });
};
const bodyOf = (text: string | Buffer): string => rekorWith({ body: b64(text) });

/** [what, annotation text, the problem it is refused with]. */
const BAD_REKOR: readonly (readonly [string, string, string])[] = [
  [
    'cut short',
    '{"SignedEntryTimestamp":',
    'the Rekor bundle annotation is not strict JSON: unexpected end of input at offset 24',
  ],
  [
    'two Payload members (readers would disagree on which counts)',
    `{"SignedEntryTimestamp":"${b64(entry.set)}","Payload":{},"Payload":{}}`,
    `the Rekor bundle annotation is not strict JSON: duplicate key "Payload" at offset ${
      `{"SignedEntryTimestamp":"${b64(entry.set)}","Payload":{},`.length
    }`,
  ],
  ['a list', '[]', 'the Rekor bundle annotation is not {"SignedEntryTimestamp": …, "Payload": {…}}'],
  [
    'an unknown member',
    JSON.stringify({ ...goodRekor(), Extra: true }),
    'the Rekor bundle annotation is not {"SignedEntryTimestamp": …, "Payload": {…}}',
  ],
  [
    'Payload a string',
    JSON.stringify({ SignedEntryTimestamp: b64(entry.set), Payload: 'body' }),
    'the Rekor bundle annotation is not {"SignedEntryTimestamp": …, "Payload": {…}}',
  ],
  [
    'no Payload',
    JSON.stringify({ SignedEntryTimestamp: b64(entry.set) }),
    'the Rekor bundle annotation is not {"SignedEntryTimestamp": …, "Payload": {…}}',
  ],
  [
    'Payload with an unknown member',
    rekorWith({ uuid: 'abc' }),
    'the Rekor bundle Payload has members other than body, integratedTime, logIndex, logID',
  ],
  ['no SET', JSON.stringify({ Payload: goodRekor().Payload }), 'the Rekor bundle has no valid SignedEntryTimestamp'],
  [
    'SET a number',
    JSON.stringify({ ...goodRekor(), SignedEntryTimestamp: 7 }),
    'the Rekor bundle has no valid SignedEntryTimestamp',
  ],
  [
    'SET not base64',
    JSON.stringify({ ...goodRekor(), SignedEntryTimestamp: 'MEUC IQ==' }),
    'the Rekor bundle has no valid SignedEntryTimestamp',
  ],
  [
    'SET empty',
    JSON.stringify({ ...goodRekor(), SignedEntryTimestamp: '' }),
    'the Rekor bundle has no valid SignedEntryTimestamp',
  ],
  ['no body', rekorWithout('body'), 'the Rekor bundle Payload.body is not base64'],
  ['body a number', rekorWith({ body: 12 }), 'the Rekor bundle Payload.body is not base64'],
  ['body URL-safe base64', rekorWith({ body: 'eyJr-_' }), 'the Rekor bundle Payload.body is not base64'],
  ['no integratedTime', rekorWithout('integratedTime'), 'the Rekor bundle integratedTime is not a positive integer'],
  ['integratedTime 0', rekorWith({ integratedTime: 0 }), 'the Rekor bundle integratedTime is not a positive integer'],
  [
    'integratedTime negative',
    rekorWith({ integratedTime: -1 }),
    'the Rekor bundle integratedTime is not a positive integer',
  ],
  [
    'integratedTime a string',
    rekorWith({ integratedTime: String(entry.integratedTime) }),
    'the Rekor bundle integratedTime is not a positive integer',
  ],
  [
    'integratedTime a fraction',
    rekorWith({ integratedTime: entry.integratedTime + 0.5 }),
    'the Rekor bundle integratedTime is not a positive integer',
  ],
  ['no logIndex', rekorWithout('logIndex'), 'the Rekor bundle logIndex is not a non-negative integer'],
  ['logIndex negative', rekorWith({ logIndex: -1 }), 'the Rekor bundle logIndex is not a non-negative integer'],
  [
    'logIndex a string',
    rekorWith({ logIndex: String(entry.logIndex) }),
    'the Rekor bundle logIndex is not a non-negative integer',
  ],
  ['no logID', rekorWithout('logID'), 'the Rekor bundle logID is not 64 lowercase hex digits'],
  [
    'logID upper case',
    rekorWith({ logID: entry.logIdHex.toUpperCase() }),
    'the Rekor bundle logID is not 64 lowercase hex digits',
  ],
  [
    'logID one digit short',
    rekorWith({ logID: entry.logIdHex.slice(1) }),
    'the Rekor bundle logID is not 64 lowercase hex digits',
  ],
  ['logID base64', rekorWith({ logID: b64(ss.rekor.logId) }), 'the Rekor bundle logID is not 64 lowercase hex digits'],
  [
    'body not JSON',
    bodyOf('not json'),
    'the Rekor entry body is not strict JSON: unexpected character "n" at offset 0',
  ],
  ['body not UTF-8', bodyOf(Buffer.from([0xff, 0xfe, 0x7b])), 'the Rekor entry body is not valid UTF-8'],
  [
    'body with two kinds',
    bodyOf('{"kind":"hashedrekord","kind":"rekord","apiVersion":"0.0.1"}'),
    'the Rekor entry body is not strict JSON: duplicate key "kind" at offset 23',
  ],
  ['body a list', bodyOf('[]'), 'the Rekor entry body has no kind and apiVersion'],
  ['body without kind', bodyOf('{"apiVersion":"0.0.1","spec":{}}'), 'the Rekor entry body has no kind and apiVersion'],
  [
    'body without apiVersion',
    bodyOf('{"kind":"hashedrekord","spec":{}}'),
    'the Rekor entry body has no kind and apiVersion',
  ],
  [
    'body with a numeric apiVersion',
    bodyOf('{"kind":"hashedrekord","apiVersion":1,"spec":{}}'),
    'the Rekor entry body has no kind and apiVersion',
  ],
];

const tsaJson = (der: unknown): string => JSON.stringify({ SignedRFC3161Timestamp: der });
const BAD_RFC3161: readonly (readonly [string, string, string])[] = [
  [
    'cut short',
    '{"SignedRFC3161Timestamp"',
    "the RFC 3161 timestamp annotation is not strict JSON: expected ':' at offset 25",
  ],
  [
    'two timestamps',
    '{"SignedRFC3161Timestamp":"AAAA","SignedRFC3161Timestamp":"AAAA"}',
    'the RFC 3161 timestamp annotation is not strict JSON: duplicate key "SignedRFC3161Timestamp" at offset 33',
  ],
  [
    'a bare string',
    JSON.stringify(b64(timestamp)),
    'the RFC 3161 timestamp annotation is not {"SignedRFC3161Timestamp": …}',
  ],
  ['a list', '[]', 'the RFC 3161 timestamp annotation is not {"SignedRFC3161Timestamp": …}'],
  [
    'an unknown member',
    JSON.stringify({ SignedRFC3161Timestamp: b64(timestamp), TSA: 'x' }),
    'the RFC 3161 timestamp annotation is not {"SignedRFC3161Timestamp": …}',
  ],
  ['no timestamp', '{}', 'the RFC 3161 timestamp is not base64'],
  ['a number', tsaJson(3161), 'the RFC 3161 timestamp is not base64'],
  ['not base64', tsaJson('MII*'), 'the RFC 3161 timestamp is not base64'],
  ['empty', tsaJson(''), 'the RFC 3161 timestamp is not base64'],
];

describe('legacyAsBundle: the layer as a message-signature bundle', () => {
  const signature = signed.signature;

  test('a certificate, a Rekor bundle and a timestamp: each in its place of the bundle', () => {
    const b = legacyAsBundle(
      PAYLOAD,
      signature,
      { rekorBundle: signed.annotations[ANNOTATION.bundle], rfc3161: signed.annotations[ANNOTATION.rfc3161] },
      { certificate: cert.certDer },
    );
    assert.ok(b.ok);
    const vm = b.value.verificationMaterial;
    assert.equal(vm.content.$case, 'x509CertificateChain');
    assert.ok(vm.content.$case === 'x509CertificateChain');
    assert.deepEqual(vm.content.x509CertificateChain.certificates, [{ rawBytes: Buffer.from(cert.certDer) }]);
    assert.deepEqual(vm.tlogEntries, [
      {
        logIndex: String(entry.logIndex),
        logId: { keyId: ss.rekor.logId },
        kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
        integratedTime: String(entry.integratedTime),
        inclusionPromise: { signedEntryTimestamp: entry.set },
        inclusionProof: undefined,
        canonicalizedBody: entry.body,
      },
    ]);
    assert.deepEqual(vm.timestampVerificationData, {
      rfc3161Timestamps: [{ signedTimestamp: Buffer.from(timestamp) }],
    });
    assert.ok(b.value.content.$case === 'messageSignature');
    assert.deepEqual(b.value.content.messageSignature, {
      messageDigest: { algorithm: HashAlgorithm.SHA2_256, digest: createHash('sha256').update(PAYLOAD).digest() },
      signature,
    });
  });

  test('a key hint and no log or timestamp material: no tlog entries and no timestamp data', () => {
    const b = legacyAsBundle(PAYLOAD, signature, {}, { hint: 'release-key' });
    assert.ok(b.ok);
    assert.deepEqual(b.value.verificationMaterial.content, { $case: 'publicKey', publicKey: { hint: 'release-key' } });
    assert.deepEqual(b.value.verificationMaterial.tlogEntries, []);
    assert.equal(b.value.verificationMaterial.timestampVerificationData, undefined);
  });

  test('a logIndex of 0 is a valid index (the first entry of a log)', () => {
    const b = legacyAsBundle(PAYLOAD, signature, { rekorBundle: rekorWith({ logIndex: 0 }) }, { hint: 'k' });
    assert.ok(b.ok);
    assert.equal(b.value.verificationMaterial.tlogEntries[0]?.logIndex, '0');
  });

  for (const [what, text, why] of BAD_REKOR) {
    test(`Rekor bundle annotation ${what}: refused`, () => {
      assert.deepEqual(legacyAsBundle(PAYLOAD, signature, { rekorBundle: text }, { hint: 'k' }), {
        ok: false,
        problem: why,
      });
    });
  }
  for (const [what, text, why] of BAD_RFC3161) {
    test(`RFC 3161 annotation ${what}: refused`, () => {
      assert.deepEqual(legacyAsBundle(PAYLOAD, signature, { rfc3161: text }, { hint: 'k' }), {
        ok: false,
        problem: why,
      });
    });
  }

  test('the Rekor bundle is read before the timestamp: with both broken, the Rekor problem is the one reported', () => {
    const b = legacyAsBundle(PAYLOAD, signature, { rekorBundle: '[]', rfc3161: '[]' }, { hint: 'k' });
    assert.deepEqual(b, {
      ok: false,
      problem: 'the Rekor bundle annotation is not {"SignedEntryTimestamp": …, "Payload": {…}}',
    });
  });
});

describe('leafCertificate: the certificate annotation is exactly one PEM certificate', () => {
  const der = cert.certDer;

  test('one block (LF or CRLF, surrounding blank space, body wrapped or not) -> its DER', () => {
    for (const text of [
      cert.certPem,
      cert.certPem.replaceAll('\n', '\r\n'),
      `\n  ${cert.certPem}\n\n`,
      `-----BEGIN CERTIFICATE-----\n${b64(der)}\n-----END CERTIFICATE-----`,
      `-----BEGIN CERTIFICATE-----\n${b64(der)}-----END CERTIFICATE-----\n`,
    ]) {
      const r = leafCertificate(text);
      assert.ok(r.ok, JSON.stringify(text));
      assert.deepEqual(Buffer.from(r.value), der);
    }
  });

  const NOT_ONE = 'the certificate annotation is not exactly one PEM CERTIFICATE block';
  const MALFORMED = 'the certificate annotation has a malformed PEM body';
  for (const [what, text, why] of [
    ['the leaf and its chain', cert.certPem + cert.chainPem, NOT_ONE],
    ['a public key', publicKeyPem(releaseKey), NOT_ONE],
    ['base64 without PEM armour', b64(der), NOT_ONE],
    ['text before the block', `leaf:\n${cert.certPem}`, NOT_ONE],
    ['no END line', `-----BEGIN CERTIFICATE-----\n${b64(der)}\n`, NOT_ONE],
    [
      'a space inside the body',
      `-----BEGIN CERTIFICATE-----\n${b64(der).slice(0, 8)} ${b64(der).slice(8)}\n-----END CERTIFICATE-----`,
      NOT_ONE,
    ],
    [
      'a body that is not padded base64',
      '-----BEGIN CERTIFICATE-----\nMIIB\nMII\n-----END CERTIFICATE-----',
      MALFORMED,
    ],
    ['data after the padding', '-----BEGIN CERTIFICATE-----\nMA==MA==\n-----END CERTIFICATE-----', MALFORMED],
    ['an empty body', '-----BEGIN CERTIFICATE-----\n\n\n-----END CERTIFICATE-----', MALFORMED],
  ] as const) {
    test(`${what} -> refused`, () => {
      assert.deepEqual(leafCertificate(text), { ok: false, problem: why });
    });
  }
});

describe('chainCertificates: the chain annotation holds PEM certificates only', () => {
  const { chainPem } = cert;

  test('intermediate then root -> both DERs in order', () => {
    const r = chainCertificates(chainPem);
    assert.ok(r.ok);
    assert.deepEqual(
      r.value.map((d) => Buffer.from(d)),
      [ss.fulcio.intermediate.der, ss.fulcio.root.der],
    );
  });

  test('no PEM block at all -> no certificates (the chain is optional, never trust material)', () => {
    assert.deepEqual(chainCertificates(''), { ok: true, value: [] });
    assert.deepEqual(chainCertificates('no chain here'), { ok: true, value: [] });
  });

  for (const [what, text, why] of [
    [
      'a certificate body that is not padded base64',
      `${chainPem}-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n`,
      'the chain annotation has a malformed PEM body',
    ],
    [
      'an empty certificate body',
      `-----BEGIN CERTIFICATE-----\n\n\n-----END CERTIFICATE-----\n${chainPem}`,
      'the chain annotation has a malformed PEM body',
    ],
    [
      'a public key among the certificates',
      chainPem + publicKeyPem(releaseKey),
      'the chain annotation holds something other than PEM certificates',
    ],
    [
      'a certificate without its END line',
      `${chainPem}-----BEGIN CERTIFICATE-----\n${b64(ss.fulcio.root.der)}\n`,
      'the chain annotation holds something other than PEM certificates',
    ],
  ] as const) {
    test(`${what} -> refused`, () => {
      assert.deepEqual(chainCertificates(text), { ok: false, problem: why });
    });
  }
});

describe('through verifySignature: a keyless layer under a policy of identities', () => {
  const withAnnotation = (key: string, value: string): UntrustedLegacySignature =>
    layer({ ...signed.annotations, [key]: value });

  test('unaltered: verified, and every annotation it carries was checked', () => {
    const r = verifySignature(layer(signed.annotations), keyless());
    verified(r, ['release']);
    assert.equal(r.notEvaluated, undefined);
  });

  for (const [what, text, why] of BAD_REKOR) {
    test(`Rekor bundle annotation ${what} -> malformed`, () => {
      refused(verifySignature(withAnnotation(ANNOTATION.bundle, text), keyless()), 'malformed', why);
    });
  }
  for (const [what, text, why] of BAD_RFC3161) {
    test(`RFC 3161 annotation ${what} -> malformed`, () => {
      refused(verifySignature(withAnnotation(ANNOTATION.rfc3161, text), keyless()), 'malformed', why);
    });
  }

  test('an empty Rekor bundle or timestamp annotation counts as absent (as in cosign)', () => {
    const noTlog = ss.signLegacy({ payload: PAYLOAD, identity: GH, tlog: false, tsa: true });
    verified(
      verifySignature(layer({ ...noTlog.annotations, [ANNOTATION.bundle]: '' }), keyless({ identityTlog: false })),
      ['release'],
    );
    verified(verifySignature(withAnnotation(ANNOTATION.rfc3161, ''), keyless()), ['release']);
  });

  test('a well-formed RFC 3161 annotation whose bytes are no timestamp -> malformed, saying it cannot be read', () => {
    const r = verifySignature(withAnnotation(ANNOTATION.rfc3161, tsaJson(b64('not a TimeStampResp'))), keyless());
    assert.equal(r.verified, false);
    assert.equal(r.reason, 'malformed', r.message);
    assert.match(r.message ?? '', /^its signing material cannot be read: /);
  });

  test('a Rekor body whose kind and apiVersion the SET covers but @sigstore/verify does not know -> tlog-invalid', () => {
    const body = Buffer.from('{"apiVersion":"0.0.1","kind":"rekord","spec":{}}');
    const logged = ss.rekor.append(body, entry.integratedTime);
    refused(
      verifySignature(withAnnotation(ANNOTATION.bundle, rekorBundleAnnotation(logged)), keyless()),
      'tlog-invalid',
      'root "test": unsupported kind: rekord',
    );
  });

  const NOT_ONE = 'the certificate annotation is not exactly one PEM CERTIFICATE block';
  test('certificate annotation with the chain appended, or a public key -> malformed', () => {
    refused(
      verifySignature(withAnnotation(ANNOTATION.certificate, cert.certPem + cert.chainPem), keyless()),
      'malformed',
      NOT_ONE,
    );
    refused(
      verifySignature(withAnnotation(ANNOTATION.certificate, publicKeyPem(releaseKey)), keyless()),
      'malformed',
      NOT_ONE,
    );
  });

  test('certificate annotation with a malformed body -> malformed', () => {
    refused(
      verifySignature(
        withAnnotation(ANNOTATION.certificate, '-----BEGIN CERTIFICATE-----\nMIIB\nMII\n-----END CERTIFICATE-----'),
        keyless(),
      ),
      'malformed',
      'the certificate annotation has a malformed PEM body',
    );
  });

  test('certificate annotation that is base64 but not a certificate -> malformed, saying it cannot be read', () => {
    const r = verifySignature(withAnnotation(ANNOTATION.certificate, pem(Buffer.from('not a certificate'))), keyless());
    assert.equal(r.verified, false);
    assert.deepEqual(r.signers, []);
    assert.equal(r.reason, 'malformed', r.message);
    assert.match(r.message ?? '', /^its signing material cannot be read: /);
  });

  test('an empty certificate annotation counts as absent: the policy has no key for it -> unknown-key', () => {
    refused(
      verifySignature(withAnnotation(ANNOTATION.certificate, ''), keyless()),
      'unknown-key',
      'no trusted keys apply to this image, so no signature can verify',
    );
  });

  test('chain annotation with a public key, or a malformed certificate -> malformed', () => {
    refused(
      verifySignature(withAnnotation(ANNOTATION.chain, cert.chainPem + publicKeyPem(releaseKey)), keyless()),
      'malformed',
      'the chain annotation holds something other than PEM certificates',
    );
    refused(
      verifySignature(
        withAnnotation(ANNOTATION.chain, '-----BEGIN CERTIFICATE-----\nAB\n-----END CERTIFICATE-----\n'),
        keyless(),
      ),
      'malformed',
      'the chain annotation has a malformed PEM body',
    );
  });

  test('under a Sigstore root the chain annotation is not trust material: junk in a well-formed block is ignored', () => {
    verified(verifySignature(withAnnotation(ANNOTATION.chain, pem(Buffer.from('junk'))), keyless()), ['release']);
  });

  test('a signature not made with the certificate key, timestamped by the trusted TSA -> bad-signature', () => {
    const unlogged = ss.signLegacy({ payload: PAYLOAD, identity: GH, tlog: false, tsa: true });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const forged = Buffer.from(signBytes(other, PAYLOAD));
    const sig = layer({
      ...unlogged.annotations,
      [ANNOTATION.signature]: b64(forged),
      [ANNOTATION.rfc3161]: tsaJson(b64(ss.tsa.timestamp(forged, NOW))),
    });
    refused(
      verifySignature(sig, keyless({ identityTlog: false })),
      'bad-signature',
      'root "test": the signature does not verify with the key of its certificate: the payload or signature was altered',
    );
  });
});

describe('through verifySignature: a private-CA layer whose chain annotation brings the intermediate', () => {
  const ca = createTestCa({ now: NOW });
  const SUBJECT = 'https://signer.example/ci';
  const ctx = keyless({
    identities: [{ name: 'ci', authority: privateCa('corp', ca.rootsPem), subject: { exact: SUBJECT }, github: {} }],
    now: NOW,
  });
  const l = ss.signLegacy({ payload: PAYLOAD, identity: SUBJECT, cert: ca.issue({ subject: SUBJECT }), tlog: false });
  const withChain = (chain: string): UntrustedLegacySignature => layer({ ...l.annotations, [ANNOTATION.chain]: chain });

  test('an unreadable certificate next to the intermediate is skipped; the path is found through the intermediate', () => {
    verified(verifySignature(withChain(pem(Buffer.from('junk')) + ca.intermediatesPem), ctx), ['ci']);
  });

  test('only unreadable certificates: no path to the configured root -> untrusted-certificate', () => {
    refused(
      verifySignature(withChain(pem(Buffer.from('junk'))), ctx),
      'untrusted-certificate',
      'ca "corp": Failed to verify certificate chain (no valid certificate path found)',
    );
  });
});

describe('through verifySignature: a key signature that must be logged (keyTlog)', () => {
  const withAnnotation = (key: string, value: string): UntrustedLegacySignature =>
    layer({ ...byKey.annotations, [key]: value });

  test('unaltered: verified by its key', () => {
    verified(verifySignature(layer(byKey.annotations), keyTlog), ['release-key']);
  });

  for (const [what, text, why] of BAD_REKOR) {
    test(`Rekor bundle annotation ${what} -> malformed`, () => {
      refused(verifySignature(withAnnotation(ANNOTATION.bundle, text), keyTlog), 'malformed', why);
    });
  }
  for (const [what, text, why] of BAD_RFC3161) {
    test(`RFC 3161 annotation ${what} -> malformed`, () => {
      refused(verifySignature(withAnnotation(ANNOTATION.rfc3161, text), keyTlog), 'malformed', why);
    });
  }

  test('without keyTlog the same unreadable annotations are not read: verified, reported as not evaluated', () => {
    const r = verifySignature(layer({ ...byKey.annotations, [ANNOTATION.bundle]: '[]', [ANNOTATION.rfc3161]: '[]' }), {
      digest: IMAGE,
      keys: [RELEASE_KEY],
    });
    verified(r, ['release-key']);
    assert.deepEqual(r.notEvaluated, ['rekor-bundle', 'rfc3161-timestamp']);
  });
});
