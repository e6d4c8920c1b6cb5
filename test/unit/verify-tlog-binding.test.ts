// Body binding (tlog-binding.ts): a transparency-log entry counts only when the verifier its body names is THIS
// signer: the signing certificate byte for byte, or a key (or a certificate of that key) with the trusted key's
// SubjectPublicKeyInfo. Every body shape Rekor logs image signatures in (hashedrekord and dsse, v0.0.1 with PEM
// verifiers, v0.0.2 of Rekor v2 with DER verifiers), and every shape it does not (other kinds, non-JSON, no verifier,
// several verifiers), directly through bindingProblem and end to end through verifySignature with a SET (and, for
// bundles, an inclusion proof) from the trusted log over the crafted body, so only the binding can refuse it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { TransparencyLogEntry } from '@sigstore/bundle';
import { digestOf } from '../../src/oci/digest.ts';
import { MT } from '../../src/oci/mediatypes.ts';
import { ANNOTATION, parsePublicKey, verifySignature } from '../../src/verify/index.ts';
import { parseTrustedRoot } from '../../src/verify/authority.ts';
import { bindingProblem, type Signer } from '../../src/verify/tlog-binding.ts';
import type { TrustedIdentity, UntrustedSignature, VerifyContext } from '../../src/verify/types.ts';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { buildDsseBundle, cosignSignStatement } from '../../src/sign/bundle.ts';
import { publicKeyPem } from '../../src/sign/signer.ts';
import { must } from '../helpers/must.ts';
import {
  createTestSigstore,
  rekorBundleAnnotation,
  tlogEntryJson,
  type LegacySignature,
  type RekorEntry,
} from '../helpers/test-sigstore.ts';
import { canonicalJson, dsseBody, hashedRekordBody } from '../helpers/test-sigstore-rekor.ts';
import { spkiDer } from '../helpers/test-sigstore-der.ts';
import { refused, verified } from '../helpers/verdicts.ts';

const NOW = new Date('2025-06-01T12:00:00Z');
const ss = createTestSigstore({ now: NOW });
const ROOT = parseTrustedRoot('test', ss.trustedRootJson);
const IMAGE = digestOf(Buffer.from('{"schemaVersion":2,"name":"acme/bound"}'));
const PAYLOAD = simpleSigningPayload({ dockerReference: 'registry.test/acme/bound', digest: IMAGE });
const STATEMENT = cosignSignStatement({ digest: IMAGE });
const GH = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
const RELEASE: TrustedIdentity = {
  name: 'release',
  authority: ROOT,
  subject: { exact: GH },
  issuer: { exact: 'https://token.actions.githubusercontent.com' },
  github: {},
};
const keyless: VerifyContext = { digest: IMAGE, keys: [], identities: [RELEASE] };
const newKey = (): KeyObject => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const releaseKey = newKey();
const keyTlog: VerifyContext = {
  digest: IMAGE,
  keys: [parsePublicKey('release-key', publicKeyPem(releaseKey))],
  keyTlog: ROOT,
};

const FOREIGN =
  'the transparency-log entry was made for another key or certificate (a log entry copied from another signature)';
const b64 = (b: Uint8Array | string): string => Buffer.from(b).toString('base64');
const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

// Two certificates and two keys to name in bodies.
const mine = ss.issue(GH);
const stranger = ss.issue(GH);
const myKey = newKey();
const otherKey = newKey();
const CERT: Signer = { certificate: mine.certDer };
const KEY: Signer = { spki: spkiDer(myKey) };

/** An entry whose body is `body` (only the body is read by the binding). */
const entryOf = (body: string | Buffer): TransparencyLogEntry => ({
  logIndex: '1',
  logId: { keyId: ss.rekor.logId },
  kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
  integratedTime: String(NOW.getTime() / 1000),
  inclusionPromise: undefined,
  inclusionProof: undefined,
  canonicalizedBody: Buffer.from(body),
});
const problemOf = (body: unknown, signer: Signer): string | undefined =>
  bindingProblem([entryOf(typeof body === 'string' ? body : canonicalJson(body))], signer);

// Body shapes as Rekor writes them, with the verifier(s) given.
const hashedRekordV1 = (content: string | undefined): object => ({
  apiVersion: '0.0.1',
  kind: 'hashedrekord',
  spec: {
    data: { hash: { algorithm: 'sha256', value: sha256(PAYLOAD).toString('hex') } },
    signature: { content: b64('sig'), ...(content === undefined ? {} : { publicKey: { content } }) },
  },
});
const dsseV1 = (verifiers: readonly unknown[]): object => ({
  apiVersion: '0.0.1',
  kind: 'dsse',
  spec: {
    payloadHash: { algorithm: 'sha256', value: sha256(STATEMENT).toString('hex') },
    signatures: verifiers.map((verifier) => ({ signature: b64('sig'), verifier })),
  },
});
/** A Rekor v2 verifier: a certificate or a public key as DER (protojson bytes are base64). */
type V2Verifier = { x509Certificate: { rawBytes: string } } | { publicKey: { rawBytes: string } } | object;
const certV2 = (der: Uint8Array): V2Verifier => ({ x509Certificate: { rawBytes: b64(der) } });
const keyV2 = (key: KeyObject): V2Verifier => ({ publicKey: { rawBytes: b64(spkiDer(key)) } });
const hashedRekordV2 = (signature: Buffer, verifier: V2Verifier | undefined): object => ({
  apiVersion: '0.0.2',
  kind: 'hashedrekord',
  spec: {
    hashedRekordV002: {
      data: { algorithm: 'SHA2_256', digest: b64(sha256(PAYLOAD)) },
      signature: {
        content: b64(signature),
        ...(verifier === undefined ? {} : { verifier: { ...verifier, keyDetails: 'PKIX_ECDSA_P256_SHA_256' } }),
      },
    },
  },
});
const dsseV2 = (signature: Buffer, verifiers: readonly V2Verifier[]): object => ({
  apiVersion: '0.0.2',
  kind: 'dsse',
  spec: {
    dsseV002: {
      payloadHash: { algorithm: 'SHA2_256', digest: b64(sha256(STATEMENT)) },
      signatures: verifiers.map((v) => ({
        content: b64(signature),
        verifier: { ...v, keyDetails: 'PKIX_ECDSA_P256_SHA_256' },
      })),
    },
  },
});

describe('bindingProblem: which entries are about this signer', () => {
  test('no entries: nothing to bind', () => {
    assert.equal(bindingProblem([], CERT), undefined);
  });

  test('hashedrekord 0.0.1: the certificate PEM, byte for byte', () => {
    assert.equal(problemOf(hashedRekordV1(b64(mine.certPem)), CERT), undefined);
    assert.equal(problemOf(hashedRekordV1(b64(stranger.certPem)), CERT), FOREIGN);
    // A certificate signature's entry must name the certificate, not only its key (cosign compares the PEMs).
    assert.equal(problemOf(hashedRekordV1(b64(publicKeyPem(mine.privateKey))), CERT), FOREIGN);
  });

  test('hashedrekord 0.0.1: the trusted key, as a PUBLIC KEY or as a certificate of that key', () => {
    assert.equal(problemOf(hashedRekordV1(b64(publicKeyPem(myKey))), KEY), undefined);
    assert.equal(problemOf(hashedRekordV1(b64(publicKeyPem(otherKey))), KEY), FOREIGN);
    assert.equal(problemOf(hashedRekordV1(b64(mine.certPem)), { spki: spkiDer(mine.privateKey) }), undefined);
    assert.equal(problemOf(hashedRekordV1(b64(stranger.certPem)), { spki: spkiDer(mine.privateKey) }), FOREIGN);
  });

  test('hashedrekord 0.0.1: unreadable verifier DER is another signer, never an exception', () => {
    const junk = (label: string): string => b64(`-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----\n`);
    assert.equal(problemOf(hashedRekordV1(junk('CERTIFICATE')), KEY), FOREIGN);
    assert.equal(problemOf(hashedRekordV1(junk('PUBLIC KEY')), KEY), FOREIGN);
    assert.equal(problemOf(hashedRekordV1(junk('CERTIFICATE')), CERT), FOREIGN);
  });

  test('hashedrekord 0.0.1: no verifier, one of another kind, or two -> says how many it names', () => {
    assert.equal(
      problemOf(hashedRekordV1(undefined), CERT),
      'the transparency-log entry names 0 verifiers, expected one',
    );
    assert.equal(
      problemOf(hashedRekordV1(b64('-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n')), KEY),
      'the transparency-log entry names 0 verifiers, expected one',
    );
    assert.equal(
      problemOf(hashedRekordV1(b64('not PEM at all')), CERT),
      'the transparency-log entry names 0 verifiers, expected one',
    );
    assert.equal(
      problemOf(hashedRekordV1(b64(mine.certPem + stranger.certPem)), CERT),
      'the transparency-log entry names 2 verifiers, expected one',
    );
    // Even two copies of the right certificate: one entry, one signer.
    assert.equal(
      problemOf(hashedRekordV1(b64(mine.certPem + mine.certPem)), CERT),
      'the transparency-log entry names 2 verifiers, expected one',
    );
    const noKeyObject = { ...hashedRekordV1(undefined), spec: { signature: 'flat' } };
    assert.equal(problemOf(noKeyObject, CERT), 'the transparency-log entry names 0 verifiers, expected one');
  });

  test('dsse 0.0.1: each signature verifier is a PEM', () => {
    assert.equal(problemOf(dsseV1([b64(mine.certPem)]), CERT), undefined);
    assert.equal(problemOf(dsseV1([b64(stranger.certPem)]), CERT), FOREIGN);
    assert.equal(problemOf(dsseV1([b64(publicKeyPem(myKey))]), KEY), undefined);
    assert.equal(
      problemOf(dsseV1([b64(mine.certPem), b64(stranger.certPem)]), CERT),
      'the transparency-log entry names 2 verifiers, expected one',
    );
    // Signatures without a string verifier name nobody.
    assert.equal(problemOf(dsseV1([7, null, b64(mine.certPem)]), CERT), undefined);
    assert.equal(problemOf(dsseV1([]), CERT), 'the transparency-log entry names 0 verifiers, expected one');
    const notAList = { apiVersion: '0.0.1', kind: 'dsse', spec: { signatures: { verifier: b64(mine.certPem) } } };
    assert.equal(problemOf(notAList, CERT), 'the transparency-log entry names 0 verifiers, expected one');
    const notObjects = { apiVersion: '0.0.1', kind: 'dsse', spec: { signatures: [b64(mine.certPem)] } };
    assert.equal(problemOf(notObjects, CERT), 'the transparency-log entry names 0 verifiers, expected one');
  });

  test('hashedrekord 0.0.2 (Rekor v2): the verifier is a DER certificate or public key', () => {
    const sig = Buffer.from('sig');
    assert.equal(problemOf(hashedRekordV2(sig, certV2(mine.certDer)), CERT), undefined);
    assert.equal(problemOf(hashedRekordV2(sig, certV2(stranger.certDer)), CERT), FOREIGN);
    assert.equal(problemOf(hashedRekordV2(sig, keyV2(mine.privateKey)), CERT), FOREIGN);
    assert.equal(problemOf(hashedRekordV2(sig, keyV2(myKey)), KEY), undefined);
    assert.equal(problemOf(hashedRekordV2(sig, keyV2(otherKey)), KEY), FOREIGN);
    assert.equal(problemOf(hashedRekordV2(sig, certV2(mine.certDer)), { spki: spkiDer(mine.privateKey) }), undefined);
    assert.equal(problemOf(hashedRekordV2(sig, { publicKey: { rawBytes: b64('junk') } }), KEY), FOREIGN);
  });

  test('hashedrekord 0.0.2: no verifier, an unknown verifier, no entry spec -> names 0 verifiers', () => {
    const zero = 'the transparency-log entry names 0 verifiers, expected one';
    const sig = Buffer.from('sig');
    assert.equal(problemOf(hashedRekordV2(sig, undefined), CERT), zero);
    assert.equal(problemOf(hashedRekordV2(sig, { ed25519: { rawBytes: 'AA==' } }), CERT), zero);
    assert.equal(problemOf(hashedRekordV2(sig, { x509Certificate: { rawBytes: 42 } }), CERT), zero);
    assert.equal(problemOf({ apiVersion: '0.0.2', kind: 'hashedrekord', spec: {} }, CERT), zero);
    // A v0.0.1 spec under apiVersion 0.0.2 is not read as one.
    assert.equal(problemOf({ ...hashedRekordV1(b64(mine.certPem)), apiVersion: '0.0.2' }, CERT), zero);
  });

  test('dsse 0.0.2 (Rekor v2): every signature verifier counts', () => {
    const sig = Buffer.from('sig');
    assert.equal(problemOf(dsseV2(sig, [certV2(mine.certDer)]), CERT), undefined);
    assert.equal(problemOf(dsseV2(sig, [keyV2(myKey)]), KEY), undefined);
    assert.equal(problemOf(dsseV2(sig, [certV2(stranger.certDer)]), CERT), FOREIGN);
    assert.equal(
      problemOf(dsseV2(sig, [certV2(mine.certDer), keyV2(myKey)]), CERT),
      'the transparency-log entry names 2 verifiers, expected one',
    );
    const zero = 'the transparency-log entry names 0 verifiers, expected one';
    assert.equal(problemOf({ apiVersion: '0.0.2', kind: 'dsse', spec: { dsseV002: 'x' } }, CERT), zero);
    assert.equal(problemOf({ apiVersion: '0.0.2', kind: 'dsse', spec: { dsseV002: { signatures: {} } } }, CERT), zero);
  });

  test('kinds that do not log an image signature, and bodies that are not entries', () => {
    const kind = (k: string): string =>
      `the transparency-log entry is of kind ${k}, which does not log an image signature`;
    assert.equal(problemOf({ apiVersion: '0.0.1', kind: 'rekord', spec: {} }, CERT), kind('rekord 0.0.1'));
    assert.equal(problemOf({ apiVersion: '0.0.2', kind: 'intoto', spec: {} }, CERT), kind('intoto 0.0.2'));
    assert.equal(problemOf({ apiVersion: '0.0.3', kind: 'hashedrekord', spec: {} }, CERT), kind('hashedrekord 0.0.3'));
    assert.equal(problemOf({ apiVersion: '0.0.1', kind: 'dsse' }, CERT), kind('dsse 0.0.1'));
    assert.equal(problemOf({ spec: {} }, CERT), kind('undefined undefined'));
    assert.equal(problemOf([hashedRekordV1(b64(mine.certPem))], CERT), kind('unknown'));
    assert.equal(problemOf('"hashedrekord"', CERT), kind('unknown'));
    assert.equal(problemOf('null', CERT), kind('unknown'));
    assert.equal(problemOf('{"kind":', CERT), 'the transparency-log entry body is not JSON');
    assert.equal(
      bindingProblem([entryOf(Buffer.from([0xff, 0xfe]))], CERT),
      'the transparency-log entry body is not JSON',
    );
  });

  test('every entry must name the signer: one foreign entry after a good one refuses', () => {
    const good = entryOf(canonicalJson(hashedRekordV1(b64(mine.certPem))));
    const bad = entryOf(canonicalJson(hashedRekordV1(b64(stranger.certPem))));
    assert.equal(bindingProblem([good, good], CERT), undefined);
    assert.equal(bindingProblem([good, bad], CERT), FOREIGN);
    assert.equal(bindingProblem([bad, good], CERT), FOREIGN);
  });
});

/** `signed`'s legacy layer with its Rekor bundle annotation replaced by a new entry of the trusted log (a valid SET)
 * over `body`, logged at the same time as the original. */
function loggedLayer(signed: LegacySignature, body: object | Buffer): UntrustedSignature {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(canonicalJson(body));
  const entry = ss.rekor.append(bytes, must(signed.rekor, "the layer's log entry").integratedTime);
  return {
    format: 'legacy',
    source: 'minted .sig layer',
    layerDigest: digestOf(PAYLOAD),
    layerMediaType: MT.cosignSimpleSigning,
    annotations: { ...signed.annotations, [ANNOTATION.bundle]: rekorBundleAnnotation(entry) },
    payload: PAYLOAD,
  };
}

describe('through verifySignature: a legacy keyless layer logged with a crafted body', () => {
  const signed = ss.signLegacy({ payload: PAYLOAD, identity: GH });
  const cert = must(signed.cert, "the keyless layer's certificate");
  const logged = (body: object | Buffer): UntrustedSignature => loggedLayer(signed, body);

  test('hashedrekord 0.0.1 naming the certificate: verified; naming it twice, or it and another: refused', () => {
    verified(verifySignature(logged(hashedRekordBody(PAYLOAD, signed.signature, cert.certPem)), keyless), ['release']);
    const two = (pem: string): Buffer => hashedRekordBody(PAYLOAD, signed.signature, cert.certPem + pem);
    for (const body of [two(cert.certPem), two(stranger.certPem)]) {
      refused(
        verifySignature(logged(body), keyless),
        'tlog-invalid',
        'root "test": the transparency-log entry names 2 verifiers, expected one',
      );
    }
  });

  test('hashedrekord 0.0.1 naming the certificate key instead of the certificate -> tlog-invalid', () => {
    const body = hashedRekordBody(PAYLOAD, signed.signature, publicKeyPem(cert.privateKey));
    refused(verifySignature(logged(body), keyless), 'tlog-invalid', `root "test": ${FOREIGN}`);
  });

  test('hashedrekord 0.0.2 (Rekor v2 shape) naming the certificate: verified', () => {
    verified(verifySignature(logged(hashedRekordV2(signed.signature, certV2(cert.certDer))), keyless), ['release']);
  });

  test('hashedrekord 0.0.2 naming another certificate, or the certificate key -> tlog-invalid', () => {
    for (const v of [certV2(stranger.certDer), keyV2(cert.privateKey)]) {
      refused(
        verifySignature(logged(hashedRekordV2(signed.signature, v)), keyless),
        'tlog-invalid',
        `root "test": ${FOREIGN}`,
      );
    }
  });

  test('hashedrekord 0.0.2 without a verifier -> tlog-invalid, naming no one', () => {
    refused(
      verifySignature(logged(hashedRekordV2(signed.signature, undefined)), keyless),
      'tlog-invalid',
      'root "test": the transparency-log entry names 0 verifiers, expected one',
    );
  });

  test('hashedrekord 0.0.2 over another signature -> tlog-invalid (refused by @sigstore/verify before the binding)', () => {
    refused(
      verifySignature(logged(hashedRekordV2(Buffer.from('another signature'), certV2(cert.certDer))), keyless),
      'tlog-invalid',
      'root "test": signature mismatch',
    );
  });
});

describe('through verifySignature: a logged key signature (keyTlog) with a crafted body', () => {
  const signed = ss.signLegacyWithKey({ payload: PAYLOAD, privateKey: releaseKey });
  const logged = (body: object): UntrustedSignature => loggedLayer(signed, body);

  test('hashedrekord 0.0.2 naming the trusted key: verified; another key: tlog-invalid', () => {
    verified(verifySignature(logged(hashedRekordV2(signed.signature, keyV2(releaseKey))), keyTlog), ['release-key']);
    refused(
      verifySignature(logged(hashedRekordV2(signed.signature, keyV2(otherKey))), keyTlog),
      'tlog-invalid',
      FOREIGN,
    );
  });

  test('hashedrekord 0.0.1 naming two keys -> tlog-invalid', () => {
    const body = JSON.parse(
      hashedRekordBody(PAYLOAD, signed.signature, publicKeyPem(releaseKey) + publicKeyPem(otherKey)).toString(),
    );
    refused(
      verifySignature(logged(body), keyTlog),
      'tlog-invalid',
      'the transparency-log entry names 2 verifiers, expected one',
    );
  });
});

describe('through verifySignature: a v3 bundle whose tlog entry is a crafted dsse body', () => {
  const signed = ss.signBundle({ statement: STATEMENT, identity: GH });
  const envelope = JSON.stringify(signed.bundle.dsseEnvelope);
  /** The bundle with its tlog entry replaced by one (SET, inclusion proof, checkpoint) over `body`. */
  const logged = (body: object | Buffer, json = signed.bundle): UntrustedSignature => {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(canonicalJson(body));
    const e: RekorEntry = ss.rekor.append(bytes, must(signed.rekor, "the bundle's log entry").integratedTime);
    const kind = JSON.parse(bytes.toString()) as { kind: string; apiVersion: string };
    const tlog = JSON.parse(tlogEntryJson(e, ss.rekor.logId, kind.kind));
    tlog.kindVersion.version = kind.apiVersion;
    const j = structuredClone(json);
    j.verificationMaterial.tlogEntries = [tlog];
    return {
      format: 'bundle',
      source: 'minted referrer',
      manifestDigest: digestOf(Buffer.from('referrer')),
      bundle: Buffer.from(JSON.stringify(j)),
    };
  };

  test('dsse 0.0.1 naming the certificate: verified; naming it and another in one verifier: tlog-invalid', () => {
    verified(verifySignature(logged(dsseBody(envelope, STATEMENT, signed.signature, signed.cert.certPem)), keyless), [
      'release',
    ]);
    refused(
      verifySignature(
        logged(dsseBody(envelope, STATEMENT, signed.signature, signed.cert.certPem + stranger.certPem)),
        keyless,
      ),
      'tlog-invalid',
      'root "test": the transparency-log entry names 2 verifiers, expected one',
    );
  });

  test('dsse 0.0.2 (Rekor v2 shape) naming the certificate: verified; another certificate: tlog-invalid', () => {
    verified(verifySignature(logged(dsseV2(signed.signature, [certV2(signed.cert.certDer)])), keyless), ['release']);
    refused(
      verifySignature(logged(dsseV2(signed.signature, [certV2(stranger.certDer)])), keyless),
      'tlog-invalid',
      `root "test": ${FOREIGN}`,
    );
  });

  test('dsse 0.0.2 with two signatures -> tlog-invalid (@sigstore/verify counts them before the binding)', () => {
    refused(
      verifySignature(
        logged(dsseV2(signed.signature, [certV2(signed.cert.certDer), certV2(signed.cert.certDer)])),
        keyless,
      ),
      'tlog-invalid',
      'root "test": signature count mismatch',
    );
  });

  test('a key-signed bundle logged as dsse 0.0.2 naming the trusted key: verified; another key: tlog-invalid', () => {
    const json = JSON.parse(Buffer.from(buildDsseBundle({ statement: STATEMENT, privateKey: releaseKey })).toString());
    const signature = Buffer.from(json.dsseEnvelope.signatures[0].sig, 'base64');
    verified(verifySignature(logged(dsseV2(signature, [keyV2(releaseKey)]), json), keyTlog), ['release-key']);
    refused(verifySignature(logged(dsseV2(signature, [keyV2(otherKey)]), json), keyTlog), 'tlog-invalid', FOREIGN);
  });
});
