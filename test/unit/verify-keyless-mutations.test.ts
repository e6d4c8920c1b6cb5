// Keyless verification check by check, on signatures minted by the in-process test sigstore: for every check the core
// makes (or has @sigstore/verify make) a mutation that only that check refuses, in both formats (a legacy `.sig`
// layer and a cosign v3 bundle). The unmutated signature verifies under the same context, so each case would pass
// if its check were removed. Every case asserts `verified`, `reason` and `signers`.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { toSignedEntity, Verifier } from '@sigstore/verify';
import { digestOf } from '../../src/oci/digest.ts';
import { MT } from '../../src/oci/mediatypes.ts';
import { ANNOTATION, parsePublicKey, verifySignature } from '../../src/verify/index.ts';
import { parseTrustedRoot, privateCa } from '../../src/verify/authority.ts';
import { legacyAsBundle } from '../../src/verify/legacy-bundle.ts';
import type {
  RejectReason,
  SignatureCheck,
  TrustedIdentity,
  UntrustedSignature,
  VerifyContext,
} from '../../src/verify/types.ts';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { buildDsseBundle, cosignSignStatement } from '../../src/sign/bundle.ts';
import { publicKeyPem, signBytes } from '../../src/sign/signer.ts';
import { dssePae, IN_TOTO_PAYLOAD_TYPE } from '../../src/verify/dsse.ts';
import {
  createTestCa,
  createTestSigstore,
  rekorBundleAnnotation,
  tlogEntryJson,
  type IssuedCert,
  type IssueOptions,
  type LegacySignature,
  type RekorEntry,
  type TestSigstore,
} from '../helpers/test-sigstore.ts';
import { dsseBody, hashedRekordBody } from '../helpers/test-sigstore-rekor.ts';
import {
  authorityKeyId,
  caConstraints,
  extension,
  extKeyUsage,
  keyUsage,
  name,
  newP256,
  pem,
  randomSerial,
  signCertificate,
  subjectKeyId,
  tbsCertificate,
  utf8String,
} from '../helpers/test-sigstore-der.ts';
import { issueFulcioLeaf, issuePrivateLeaf, type CaCert } from '../helpers/test-sigstore-pki.ts';
import { sctListExtension } from '../helpers/test-sigstore-ct.ts';

// A bundle's JSON tree, altered member by member as the format names them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type LooseJson = Record<string, any>;

const NOW = new Date('2025-06-01T12:00:00Z');
const ss = createTestSigstore({ now: NOW });
const other = createTestSigstore({ now: NOW });
const ROOT = parseTrustedRoot('test', ss.trustedRootJson);

const IMAGE = digestOf(Buffer.from('{"schemaVersion":2,"name":"acme/app"}'));
const PAYLOAD = simpleSigningPayload({ dockerReference: 'registry.test/acme/app', digest: IMAGE });
const STATEMENT = cosignSignStatement({ digest: IMAGE });
const GH = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
const GH_ISSUER = 'https://token.actions.githubusercontent.com';
const RELEASE: TrustedIdentity = {
  name: 'release',
  authority: ROOT,
  subject: { exact: GH },
  issuer: { exact: GH_ISSUER },
  github: {},
};
const keyless = (over: Partial<VerifyContext> = {}): VerifyContext => ({
  digest: IMAGE,
  keys: [],
  identities: [RELEASE],
  ...over,
});

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const flipped = (b: Uint8Array, from = 2): Buffer => {
  const c = Buffer.from(b);
  c[c.length - from] = (c[c.length - from] ?? 0) ^ 0x01;
  return c;
};

type Format = 'legacy' | 'bundle';
const FORMATS: readonly Format[] = ['legacy', 'bundle'];

/** A signature as the fetcher hands it over, and the same signature with one piece of its material replaced. */
interface Minted {
  readonly sig: UntrustedSignature;
  readonly signature: Buffer;
  readonly entry?: RekorEntry;
  /** The log entry replaced (legacy: the Rekor bundle annotation; bundle: tlogEntries[0]). */
  withEntry(e: RekorEntry): UntrustedSignature;
  /** The RFC 3161 timestamp replaced. */
  withTimestamp(der: Uint8Array): UntrustedSignature;
  /** No log entry at all. */
  withoutEntry(): UntrustedSignature;
  /** The same material with the signature made by `key` instead. */
  withSignatureBy(key: KeyObject): UntrustedSignature;
  /** The entry body this signature logs (same signature, same digest), naming `verifierPem` as its signer. */
  bodyNaming(verifierPem: string): Buffer;
  /** The bundle JSON (bundle format only), to alter further. */
  readonly json?: LooseJson;
}

function legacyMinted(l: LegacySignature): Minted {
  const layer = (annotations: Record<string, string>): UntrustedSignature => ({
    format: 'legacy',
    source: 'minted .sig layer',
    layerDigest: digestOf(PAYLOAD),
    layerMediaType: MT.cosignSimpleSigning,
    annotations,
    payload: PAYLOAD,
  });
  const { [ANNOTATION.bundle]: _entry, ...unlogged } = l.annotations;
  return {
    sig: layer(l.annotations),
    signature: l.signature,
    ...(l.rekor === undefined ? {} : { entry: l.rekor }),
    withEntry: (e) => layer({ ...l.annotations, [ANNOTATION.bundle]: rekorBundleAnnotation(e) }),
    withTimestamp: (der) =>
      layer({ ...l.annotations, [ANNOTATION.rfc3161]: JSON.stringify({ SignedRFC3161Timestamp: b64(der) }) }),
    withoutEntry: () => layer(unlogged),
    withSignatureBy: (key) => layer({ ...l.annotations, [ANNOTATION.signature]: b64(signBytes(key, PAYLOAD)) }),
    bodyNaming: (verifierPem) => hashedRekordBody(PAYLOAD, l.signature, verifierPem),
  };
}

function bundleMinted(json: LooseJson, signature: Buffer, entry: RekorEntry | undefined): Minted {
  const asSig = (j: LooseJson): UntrustedSignature => ({
    format: 'bundle',
    source: 'minted referrer',
    manifestDigest: digestOf(Buffer.from('referrer manifest')),
    bundle: Buffer.from(JSON.stringify(j)),
  });
  const edit = (f: (vm: LooseJson) => void): UntrustedSignature => {
    const j = structuredClone(json);
    f(j.verificationMaterial);
    return asSig(j);
  };
  return {
    sig: asSig(json),
    signature,
    ...(entry === undefined ? {} : { entry }),
    json,
    withEntry: (e) =>
      edit((vm) => {
        vm.tlogEntries = [JSON.parse(tlogEntryJson(e, Buffer.from(e.logIdHex, 'hex'), 'dsse'))];
      }),
    withTimestamp: (der) =>
      edit((vm) => {
        vm.timestampVerificationData = { rfc3161Timestamps: [{ signedTimestamp: b64(der) }] };
      }),
    withoutEntry: () =>
      edit((vm) => {
        delete vm.tlogEntries;
      }),
    withSignatureBy: (key) => {
      const j = structuredClone(json);
      j.dsseEnvelope.signatures[0].sig = b64(signBytes(key, dssePae(IN_TOTO_PAYLOAD_TYPE, STATEMENT)));
      return asSig(j);
    },
    bodyNaming: (verifierPem) => dsseBody(JSON.stringify(json.dsseEnvelope), STATEMENT, signature, verifierPem),
  };
}

interface MintOptions {
  readonly identity?: string;
  readonly issue?: IssueOptions;
  readonly cert?: IssuedCert;
  readonly tlog?: boolean;
  readonly tsa?: boolean;
  readonly integratedTime?: number;
  readonly timestampTime?: Date;
}

/** A keyless signature over IMAGE by `using` (default: the trusted test sigstore). */
function mint(format: Format, o: MintOptions = {}, using: TestSigstore = ss): Minted {
  const { identity = GH, ...rest } = o;
  if (format === 'legacy') return legacyMinted(using.signLegacy({ payload: PAYLOAD, identity, ...rest }));
  const b = using.signBundle({ statement: STATEMENT, identity, ...rest });
  return bundleMinted(b.bundle, b.signature, b.rekor);
}

const releaseKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const RELEASE_KEY = parsePublicKey('release-key', publicKeyPem(releaseKey));
const keyCtx: VerifyContext = { digest: IMAGE, keys: [RELEASE_KEY], keyTlog: ROOT };

/** A key signature over IMAGE by the trusted key, logged in the trusted Rekor. */
function mintWithKey(format: Format): Minted {
  if (format === 'legacy') return legacyMinted(ss.signLegacyWithKey({ payload: PAYLOAD, privateKey: releaseKey }));
  const json = JSON.parse(Buffer.from(buildDsseBundle({ statement: STATEMENT, privateKey: releaseKey })).toString());
  const signature = Buffer.from(json.dsseEnvelope.signatures[0].sig, 'base64');
  const body = dsseBody(JSON.stringify(json.dsseEnvelope), STATEMENT, signature, publicKeyPem(releaseKey));
  const entry = ss.rekor.append(body, NOW.getTime() / 1000);
  json.verificationMaterial.tlogEntries = [JSON.parse(tlogEntryJson(entry, ss.rekor.logId, 'dsse'))];
  return bundleMinted(json, signature, entry);
}

function verified(r: SignatureCheck, signers: readonly string[]): void {
  assert.equal(r.verified, true, r.message);
  assert.equal(r.reason, undefined);
  assert.deepEqual(r.signers, signers);
}
function refused(r: SignatureCheck, reason: RejectReason, message: string): void {
  assert.equal(r.verified, false);
  assert.deepEqual(r.signers, []);
  assert.equal(r.reason, reason, r.message);
  assert.ok(r.message?.includes(message), `${r.message} should say: ${message}`);
}

/** The same entry, its SET signed again (by `key`, default the trusted log's) over `changes`. */
function resigned(e: RekorEntry, changes: Partial<Pick<RekorEntry, 'integratedTime'>> = {}, key = ss.rekor.privateKey) {
  const integratedTime = changes.integratedTime ?? e.integratedTime;
  return { ...e, integratedTime, set: ss.rekor.signSet({ body: e.body, integratedTime, logIndex: e.logIndex }, key) };
}

const CHAIN = 'Failed to verify certificate chain';
const TSA_REFUSED = 'root "test": timestamp could not be verified';
const FOREIGN_ENTRY = 'the transparency-log entry was made for another key or certificate';

for (const format of FORMATS) {
  describe(`${format}: keyless checks`, () => {
    test('unmutated: verifies (with a log entry; with a timestamp; with both)', () => {
      verified(verifySignature(mint(format).sig, keyless()), ['release']);
      verified(verifySignature(mint(format, { tlog: false, tsa: true }).sig, keyless({ identityTlog: false })), [
        'release',
      ]);
      verified(verifySignature(mint(format, { tsa: true }).sig, keyless()), ['release']);
    });

    test('SET: one byte flipped -> tlog-invalid', () => {
      const m = mint(format);
      const e = m.entry!;
      refused(
        verifySignature(m.withEntry({ ...e, set: flipped(e.set) }), keyless()),
        'tlog-invalid',
        'inclusion promise could not be verified',
      );
    });

    test('SET: a valid one by the trusted log, for ANOTHER signature (its entry attached) -> tlog-invalid', () => {
      const m = mint(format);
      const theirs = mint(format).entry!;
      const r = verifySignature(m.withEntry(theirs), keyless());
      // @sigstore/verify refuses it first: the logged signature is not this one.
      refused(r, 'tlog-invalid', 'signature mismatch');
    });

    test('body: names another certificate, same signature and digest, valid SET -> only the body binding refuses it', () => {
      const m = mint(format);
      const stranger = ss.issue(GH);
      const entry = ss.rekor.append(m.bodyNaming(stranger.certPem), m.entry!.integratedTime);
      const sig = m.withEntry(entry);
      // @sigstore/verify alone accepts the entry: it compares the logged signature and digest, not the signer.
      sigstoreAccepts(sig, m.signature);
      refused(verifySignature(sig, keyless()), 'tlog-invalid', FOREIGN_ENTRY);
      // Naming our own certificate, the same re-made entry is fine.
      const ours = ss.rekor.append(m.bodyNaming(certPemOf(sig)), m.entry!.integratedTime);
      verified(verifySignature(m.withEntry(ours), keyless()), ['release']);
    });

    test('log key: a SET by another Rekor key (not in the root) -> tlog-invalid', () => {
      const m = mint(format);
      refused(
        verifySignature(m.withEntry(resigned(m.entry!, {}, other.rekor.privateKey)), keyless()),
        'tlog-invalid',
        'inclusion promise could not be verified',
      );
    });

    test('log: the whole entry from another sigstore log -> tlog-invalid', () => {
      const m = mint(format);
      const theirs = other.rekor.append(m.bodyNaming(certPemOf(m.sig)), m.entry!.integratedTime);
      refused(
        verifySignature(m.withEntry(theirs), keyless()),
        'tlog-invalid',
        'root "test": inclusion promise could not be verified',
      );
    });

    test('chain: a certificate of another sigstore, logged in the trusted log -> untrusted-certificate', () => {
      const m = mint(format, { cert: other.issue(GH) });
      refused(verifySignature(m.sig, keyless()), 'untrusted-certificate', CHAIN);
    });

    test('time: an integratedTime (signed by the log) an hour after the certificate expired -> untrusted-certificate', () => {
      const m = mint(format, { integratedTime: NOW.getTime() / 1000 + 3600 });
      refused(verifySignature(m.sig, keyless()), 'untrusted-certificate', CHAIN);
      const early = mint(format);
      const moved = resigned(early.entry!, { integratedTime: NOW.getTime() / 1000 - 3600 });
      refused(verifySignature(early.withEntry(moved), keyless()), 'untrusted-certificate', CHAIN);
    });

    test('SCT: a certificate without one -> untrusted-certificate', () => {
      refused(
        verifySignature(mint(format, { issue: { sct: false } }).sig, keyless()),
        'untrusted-certificate',
        'the certificate carries no signed certificate timestamp from a CT log of the root',
      );
    });

    test('SCT: by a CT log the root does not trust, or by the trusted log over other certificate bytes -> untrusted-certificate', () => {
      // The SCT check removes the SCT extension from a copy of the leaf and verifies the log's signature over what is
      // left: these prove both the log lookup and the signature over the re-encoded certificate are checked.
      const foreign = issueFulcioLeaf(ss.fulcio, other.ctlog, NOW, GH);
      refused(verifySignature(mint(format, { cert: foreign }).sig, keyless()), 'untrusted-certificate', 'SCT');
      const issuerSpki = createPublicKey(ss.fulcio.intermediate.privateKey).export({ type: 'spki', format: 'der' });
      const notBefore = new Date(NOW.getTime() - 60_000);
      const overOther = ss.ctlog.sign(Buffer.from('another precertificate'), issuerSpki, notBefore);
      const wrong = issueFulcioLeaf(ss.fulcio, ss.ctlog, NOW, GH, {
        sct: false,
        extraExtensions: [sctListExtension([overOther])],
      });
      refused(verifySignature(mint(format, { cert: wrong }).sig, keyless()), 'untrusted-certificate', 'SCT');
      // The same leaf with an SCT over its own bytes verifies, and verifying it leaves the leaf as it was.
      const right = issueFulcioLeaf(ss.fulcio, ss.ctlog, NOW, GH);
      const m = mint(format, { cert: right });
      verified(verifySignature(m.sig, keyless()), ['release']);
      verified(verifySignature(m.sig, keyless()), ['release']);
    });

    test('TSA: a timestamp tampered, or from another TSA -> timestamp-invalid', () => {
      const m = mint(format, { tlog: false, tsa: true });
      const ctx = keyless({ identityTlog: false });
      const good = ss.tsa.timestamp(m.signature, NOW);
      verified(verifySignature(m.withTimestamp(good), ctx), ['release']);
      refused(verifySignature(m.withTimestamp(flipped(good, 3)), ctx), 'timestamp-invalid', TSA_REFUSED);
      refused(
        verifySignature(m.withTimestamp(other.tsa.timestamp(m.signature, NOW)), ctx),
        'timestamp-invalid',
        TSA_REFUSED,
      );
      refused(
        verifySignature(m.withTimestamp(ss.tsa.timestamp(Buffer.from('other bytes'), NOW)), ctx),
        'timestamp-invalid',
        TSA_REFUSED,
      );
    });

    test('TSA whose validity in the trust root ended before the timestamp -> timestamp-invalid', () => {
      const m = mint(format, { tlog: false, tsa: true });
      const ctx = keyless({ identityTlog: false });
      verified(verifySignature(m.sig, ctx), ['release']);
      const json = JSON.parse(ss.trustedRootJson) as LooseJson;
      json.timestampAuthorities[0].validFor = { start: '2020-01-01T00:00:00Z', end: '2025-01-01T00:00:00Z' };
      const expired = parseTrustedRoot('tsa-expired', JSON.stringify(json));
      refused(
        verifySignature(m.sig, { ...ctx, identities: [{ ...RELEASE, authority: expired }] }),
        'timestamp-invalid',
        'root "tsa-expired": timestamp could not be verified',
      );
    });

    test('TSA time outside the certificate validity -> untrusted-certificate', () => {
      const m = mint(format, { tlog: false, tsa: true, timestampTime: new Date(NOW.getTime() + 3600_000) });
      refused(verifySignature(m.sig, keyless({ identityTlog: false })), 'untrusted-certificate', CHAIN);
    });

    test('tlog: with a timestamp only, verified when optional, tlog-invalid when required', () => {
      const m = mint(format, { tlog: false, tsa: true });
      verified(verifySignature(m.sig, keyless({ identityTlog: false })), ['release']);
      refused(
        verifySignature(m.sig, keyless({ identityTlog: true })),
        'tlog-invalid',
        'the policy requires a transparency-log entry (tlog: required) and the signature has none',
      );
      refused(verifySignature(m.sig, keyless()), 'tlog-invalid', 'tlog: required');
    });

    test('EKU: a leaf whose extended key usage lacks codeSigning -> untrusted-certificate (our check)', () => {
      const m = mint(format, { issue: { eku: false, extraExtensions: [extKeyUsage('1.3.6.1.5.5.7.3.1')] } });
      // @sigstore/verify accepts the certificate: the code-signing requirement is ours.
      sigstoreAccepts(m.sig, m.signature);
      refused(
        verifySignature(m.sig, keyless()),
        'untrusted-certificate',
        'the certificate cannot sign: its extended key usage (1.3.6.1.5.5.7.3.1) does not include code signing',
      );
      // No EKU extension at all is "any usage" (Go's x509, so cosign): accepted.
      verified(verifySignature(mint(format, { issue: { eku: false } }).sig, keyless()), ['release']);
    });

    test('issuer: .1.1 and .1.8 naming two different issuers -> untrusted-certificate, whichever one the policy names', () => {
      const m = mint(format, {
        issue: {
          issuer: GH_ISSUER,
          issuerOids: 'v1',
          extraExtensions: [extension('1.3.6.1.4.1.57264.1.8', false, utf8String('https://evil.example'))],
        },
      });
      for (const issuer of [GH_ISSUER, 'https://evil.example']) {
        refused(
          verifySignature(m.sig, keyless({ identities: [{ ...RELEASE, issuer: { exact: issuer } }] })),
          'untrusted-certificate',
          `the certificate cannot sign: it names two different OIDC issuers (${GH_ISSUER} and https://evil.example)`,
        );
      }
      for (const issuerOids of ['v1', 'v2'] as const) {
        verified(verifySignature(mint(format, { issue: { issuerOids } }).sig, keyless()), ['release']);
      }
    });

    test('GitHub claims: right -> counted, wrong -> wrong-identity', () => {
      const m = mint(format, {
        issue: { github: { repository: 'acme/app', ref: 'refs/heads/main', trigger: 'push' } },
      });
      const want = (github: TrustedIdentity['github']): VerifyContext =>
        keyless({ identities: [{ ...RELEASE, github }] });
      verified(verifySignature(m.sig, want({ repository: 'acme/app', ref: 'refs/heads/main' })), ['release']);
      refused(
        verifySignature(m.sig, want({ repository: 'acme/app', ref: 'refs/heads/release' })),
        'wrong-identity',
        'identity "release": GitHub ref "refs/heads/main", want "refs/heads/release"',
      );
      refused(
        verifySignature(m.sig, want({ repository: 'acme/other' })),
        'wrong-identity',
        'identity "release": GitHub repository "acme/app", want "acme/other"',
      );
      refused(
        verifySignature(m.sig, want({ sha: 'abc123' })),
        'wrong-identity',
        'identity "release": GitHub sha is absent, want "abc123"',
      );
    });

    test('identities: only the names that accept the certificate are returned as signers', () => {
      const id = (name: string, over: Partial<TrustedIdentity>): TrustedIdentity => ({ ...RELEASE, name, ...over });
      const identities = [
        id('exact', {}),
        id('by-repo', { subject: { regexp: '^https://github\\.com/acme/', re: /^https:\/\/github\.com\/acme\// } }),
        id('other-repo', { subject: { regexp: '^https://github\\.com/evil/', re: /^https:\/\/github\.com\/evil\// } }),
        id('other-issuer', { issuer: { exact: 'https://accounts.google.com' } }),
        id('claims', { github: { repository: 'acme/app' } }),
      ];
      verified(verifySignature(mint(format).sig, keyless({ identities })), ['exact', 'by-repo']);
      const withClaims = mint(format, { issue: { github: { repository: 'acme/app' } } });
      verified(verifySignature(withClaims.sig, keyless({ identities })), ['exact', 'by-repo', 'claims']);
      // Under two roots, each identity is checked under its own.
      const elsewhere = id('elsewhere', { authority: parseTrustedRoot('other', other.trustedRootJson) });
      verified(verifySignature(mint(format).sig, keyless({ identities: [elsewhere, ...identities] })), [
        'exact',
        'by-repo',
      ]);
      const r = verifySignature(mint(format, {}, other).sig, keyless({ identities: [elsewhere, ...identities] }));
      verified(r, ['elsewhere']);
    });
  });

  describe(`${format}: key signatures that must be logged (keyTlog)`, () => {
    test('logged in the trusted log -> verified', () => {
      verified(verifySignature(mintWithKey(format).sig, keyCtx), ['release-key']);
    });

    test('not logged -> tlog-invalid (and verified without keyTlog)', () => {
      const m = mintWithKey(format);
      refused(
        verifySignature(m.withoutEntry(), keyCtx),
        'tlog-invalid',
        'the policy requires a transparency-log entry (tlog: required) and the signature by key "release-key" has none',
      );
      verified(verifySignature(m.withoutEntry(), { digest: IMAGE, keys: [RELEASE_KEY] }), ['release-key']);
    });

    test('logged entry naming another key, same signature and digest, valid SET -> tlog-invalid', () => {
      const m = mintWithKey(format);
      const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      const entry = ss.rekor.append(m.bodyNaming(publicKeyPem(stranger)), m.entry!.integratedTime);
      refused(verifySignature(m.withEntry(entry), keyCtx), 'tlog-invalid', FOREIGN_ENTRY);
    });

    test('logged with a tampered SET, or in another log -> tlog-invalid', () => {
      const m = mintWithKey(format);
      const e = m.entry!;
      refused(
        verifySignature(m.withEntry({ ...e, set: flipped(e.set) }), keyCtx),
        'tlog-invalid',
        'root "test": inclusion promise could not be verified',
      );
      const theirs = other.rekor.append(m.bodyNaming(publicKeyPem(releaseKey)), e.integratedTime);
      refused(
        verifySignature(m.withEntry(theirs), keyCtx),
        'tlog-invalid',
        'root "test": inclusion promise could not be verified',
      );
    });
  });

  describe(`${format}: private CA`, () => {
    const ca = createTestCa({ now: NOW });
    const stranger = createTestCa({ now: NOW });
    const SUBJECT = 'https://signer.example/ci';
    const id = (authority = privateCa('corp', ca.rootsPem, ca.intermediatesPem)): TrustedIdentity => ({
      name: 'ci',
      authority,
      subject: { exact: SUBJECT },
      github: {},
    });
    const caCtx = (authority?: TrustedIdentity['authority']): VerifyContext =>
      keyless({ identities: [id(authority)], now: NOW });
    const signed = (cert: IssuedCert): Minted => mint(format, { identity: SUBJECT, cert, tlog: false });

    test('roots and intermediates configured -> verified at `now`', () => {
      verified(verifySignature(signed(ca.issue({ subject: SUBJECT })).sig, caCtx()), ['ci']);
    });

    test('only the root configured: a legacy layer brings the intermediate in its chain annotation, a bundle only its leaf', () => {
      const r = verifySignature(signed(ca.issue({ subject: SUBJECT })).sig, caCtx(privateCa('corp', ca.rootsPem)));
      if (format === 'legacy') verified(r, ['ci']);
      else
        refused(
          r,
          'untrusted-certificate',
          'ca "corp": Failed to verify certificate chain (no valid certificate path found)',
        );
    });

    test('a signature not made with the certificate key -> bad-signature', () => {
      const forged = signed(ca.issue({ subject: SUBJECT })).withSignatureBy(releaseKey);
      refused(
        verifySignature(forged, caCtx()),
        'bad-signature',
        'ca "corp": the signature does not verify with the key of its certificate',
      );
    });

    test('another CA -> untrusted-certificate', () => {
      const r = verifySignature(
        signed(ca.issue({ subject: SUBJECT })).sig,
        caCtx(privateCa('corp', stranger.rootsPem)),
      );
      refused(r, 'untrusted-certificate', CHAIN);
    });

    test('a certificate expired at `now` -> untrusted-certificate', () => {
      const day = 86_400_000;
      const leaf = ca.issue({
        subject: SUBJECT,
        notBefore: new Date(NOW.getTime() - 2 * day),
        notAfter: new Date(NOW.getTime() - day),
      });
      refused(verifySignature(signed(leaf).sig, caCtx()), 'untrusted-certificate', CHAIN);
      verified(verifySignature(signed(leaf).sig, { ...caCtx(), now: new Date(NOW.getTime() - 1.5 * day) }), ['ci']);
    });
  });
}

describe('legacy: private-CA paths through the chain annotation', () => {
  const ca = createTestCa({ now: NOW });
  const stranger = createTestCa({ now: NOW });
  const SUBJECT = 'https://signer.example/ci';
  const identityUnder = (authority: TrustedIdentity['authority']): VerifyContext =>
    keyless({ identities: [{ name: 'ci', authority, subject: { exact: SUBJECT }, github: {} }], now: NOW });
  const signed = (cert: IssuedCert, chain?: string): UntrustedSignature => {
    const m = mint('legacy', { identity: SUBJECT, cert, tlog: false }).sig;
    assert.equal(m.format, 'legacy');
    return chain === undefined ? m : { ...m, annotations: { ...m.annotations, [ANNOTATION.chain]: chain } };
  };

  test('intermediates (and root) from the annotation, the root not configured -> untrusted-certificate', () => {
    const sig = signed(stranger.issue({ subject: SUBJECT }));
    refused(verifySignature(sig, identityUnder(privateCa('corp', ca.rootsPem))), 'untrusted-certificate', CHAIN);
    refused(
      verifySignature(sig, identityUnder(privateCa('corp', ca.rootsPem, ca.intermediatesPem))),
      'untrusted-certificate',
      CHAIN,
    );
  });

  test('a self-signed certificate in the chain annotation (issuer name not its own) is no root -> untrusted-certificate', () => {
    // Self-signed (its AKI is its own SKI) under an issuer name that is not its subject: a path builder that only
    // stops at certificates it was given would take it for a root. The configured CA must be on the path.
    const { privateKey } = newP256();
    const subject = name({ o: 'attacker', cn: 'anchor' });
    const der = signCertificate(
      tbsCertificate({
        serial: randomSerial(),
        issuer: name({ o: 'attacker', cn: 'someone else' }),
        subject,
        notBefore: ca.root.notBefore,
        notAfter: ca.root.notAfter,
        key: privateKey,
        extensions: [keyUsage(5, 6), caConstraints(), subjectKeyId(privateKey), authorityKeyId(privateKey)],
      }),
      privateKey,
    );
    const anchor: CaCert = { ...ca.root, der, pem: pem(der), subject, privateKey };
    const leaf = issuePrivateLeaf({ root: anchor, intermediate: anchor }, NOW, { subject: SUBJECT });
    const ctx = identityUnder(privateCa('corp', ca.rootsPem, ca.intermediatesPem));
    const why =
      'ca "corp": its certificate path does not reach a certificate of the CA, only ones the signature brought itself';
    refused(verifySignature(signed(leaf, anchor.pem), ctx), 'untrusted-certificate', why);
    refused(verifySignature(signed(leaf, leaf.certPem + anchor.pem), ctx), 'untrusted-certificate', why);
  });
});

describe('bundle: inclusion proof and checkpoint', () => {
  const edited = (f: (entry: LooseJson) => void): UntrustedSignature => {
    const m = mint('bundle');
    const j = structuredClone(m.json!);
    f(j.verificationMaterial.tlogEntries[0]);
    return {
      format: 'bundle',
      source: 'minted referrer',
      manifestDigest: IMAGE,
      bundle: Buffer.from(JSON.stringify(j)),
    };
  };

  test('an inclusion proof hash replaced -> tlog-invalid', () => {
    const sig = edited((e) => {
      e.inclusionProof.hashes[0] = b64(createHash('sha256').update('not a sibling').digest());
    });
    refused(
      verifySignature(sig, keyless()),
      'tlog-invalid',
      'root "test": calculated root hash does not match inclusion proof',
    );
  });

  test('a checkpoint signed by another log key -> tlog-invalid', () => {
    const sig = edited((e) => {
      const p = e.inclusionProof;
      p.checkpoint.envelope = ss.rekor.checkpoint(
        Number(p.treeSize),
        Buffer.from(p.rootHash, 'base64'),
        other.rekor.privateKey,
      );
    });
    refused(verifySignature(sig, keyless()), 'tlog-invalid', 'root "test": invalid checkpoint signature');
  });

  test('the proof without the SET still verifies (the checkpoint proves inclusion), but gives no signing time', () => {
    const sig = edited((e) => {
      delete e.inclusionPromise;
    });
    refused(verifySignature(sig, keyless()), 'timestamp-invalid', 'it has no trusted signing time');
  });
});

/** @sigstore/verify alone, with the thresholds the core uses, on the signature as the core hands it over: throws
 * when it refuses. */
function sigstoreAccepts(sig: UntrustedSignature, signature: Buffer): void {
  const proto =
    sig.format === 'bundle'
      ? bundleFromJSON(JSON.parse(Buffer.from(sig.bundle).toString()))
      : legacyBundle(sig.annotations, signature, sig.payload);
  const artifact = sig.format === 'legacy' ? Buffer.from(sig.payload) : undefined;
  new Verifier(ROOT.material, { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 }).verify(
    toSignedEntity(proto, artifact),
  );
}

/** A legacy layer's annotations as the bundle the core hands @sigstore/verify. */
function legacyBundle(annotations: Readonly<Record<string, string>>, signature: Buffer, payload: Uint8Array) {
  const b = legacyAsBundle(
    payload,
    signature,
    {
      ...(annotations[ANNOTATION.bundle] ? { rekorBundle: annotations[ANNOTATION.bundle] } : {}),
      ...(annotations[ANNOTATION.rfc3161] ? { rfc3161: annotations[ANNOTATION.rfc3161] } : {}),
    },
    {
      certificate: Buffer.from(
        (annotations[ANNOTATION.certificate] ?? '').replace(/-----[^-]+-----|\s/g, ''),
        'base64',
      ),
    },
  );
  assert.ok(b.ok, b.ok ? '' : b.problem);
  return b.value;
}

/** The PEM of the signing certificate a minted signature carries. */
function certPemOf(sig: UntrustedSignature): string {
  if (sig.format === 'legacy') return sig.annotations[ANNOTATION.certificate] ?? '';
  const raw = JSON.parse(Buffer.from(sig.bundle).toString()).verificationMaterial.certificate.rawBytes as string;
  return pem(Buffer.from(raw, 'base64'));
}
