// A sigstore of our own, minted in-process (no network): Fulcio-style CA, CT log, Rekor v1 log and RFC 3161 TSA,
// with the trusted_root.json that trusts them, to sign fresh images keylessly and to make tampered variants.
// Everything is ECDSA P-256 / SHA-256 and verifies with the sigstore project's own @sigstore/verify
// (test/unit/test-sigstore.test.ts proves it, and that its tamperings are rejected).
//
//   const ss = createTestSigstore({ now?, validFor? })   // synchronous, a few ms; `now` defaults to this second
//   ss.trustedRootJson          // protobuf-JSON trusted root: one Fulcio CA, CT log, Rekor log, TSA
//   ss.issue(identity, opts?)   // -> IssuedCert: Fulcio-style leaf valid 10 minutes from notBefore (now - 1m)
//   ss.signLegacy({ payload, identity, tlog?, tsa? })        // -> LegacySignature: a keyless `.sig` layer
//   ss.signLegacyWithKey({ payload, privateKey, tsa? })      // -> LegacySignature: a key signature in Rekor
//   ss.signBundle({ statement | digest, identity, tlog?, tsa? })   // -> SignedBundle: cosign v3 bundle v0.3
//   createTestCa({ now? }).issue({ subject, notBefore?, notAfter?, eku? })   // private PKI, no Fulcio/SCT/Rekor
//   mergeTrustedRoots(a, b, ...)   // one trusted root trusting every authority of the given ones
//   rekorBundleAnnotation(entry) / tlogEntryJson(entry, logId, kind)   // an entry a test re-made, in either form
//
// Defaults keep every time consistent: the leaf is valid [notBefore, notBefore + 10m]; the SCT is stamped at
// notBefore; the Rekor integratedTime and the TSA genTime are notBefore + 1m (== `now` for a default leaf).
// Pass `integratedTime` / `timestampTime` to move them (e.g. outside the leaf's validity: the log signs them).
// The authorities are exposed (`fulcio`, `ctlog`, `rekor`, `tsa`, private keys included) so a test can re-sign
// a SET or a checkpoint for an entry it altered, issue from the right CA, or timestamp other bytes.
// Pieces live in the sibling test-sigstore-{der,pki,ct,rekor,tsa}.ts files.
import type { KeyObject } from 'node:crypto';
import type { Digest } from '../../src/oci/digest.ts';
import { MT } from '../../src/oci/mediatypes.ts';
import { cosignSignStatement } from '../../src/sign/bundle.ts';
import { goArray, goNumber, goString, goStruct, type RawJson } from '../../src/sign/go-json.ts';
import { publicKeyPem, signBytes, toBase64 } from '../../src/sign/signer.ts';
import { dssePae, IN_TOTO_PAYLOAD_TYPE } from '../../src/verify/dsse.ts';
import { ANNOTATION } from '../../src/verify/legacy.ts';
import { createCtLog, type TestCtLog } from './test-sigstore-ct.ts';
import { spkiDer, type Der } from './test-sigstore-der.ts';
import {
  issueFulcioLeaf,
  issuePrivateLeaf,
  makeCaPair,
  type CaCert,
  type IssuedCert,
  type IssueOptions,
  type PrivateIssueOptions,
} from './test-sigstore-pki.ts';
import {
  createRekorLog,
  dsseBody,
  hashedRekordBody,
  type RekorEntry,
  type TestRekorLog,
} from './test-sigstore-rekor.ts';
import { createTsa, type TestTsa } from './test-sigstore-tsa.ts';

export type { IssuedCert, IssueOptions, PrivateIssueOptions } from './test-sigstore-pki.ts';
export type { RekorEntry } from './test-sigstore-rekor.ts';

export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';
const DAY = 86_400_000;
const wholeSecond = (d: Date): Date => new Date(Math.floor(d.getTime() / 1000) * 1000);

export interface TestSigstoreOptions {
  /** The instant everything is minted around (default: now, to the second). */
  readonly now?: Date;
  /** `validFor` of every authority in the trusted root (default: from a year before `now`, open-ended). */
  readonly validFor?: { readonly start: Date; readonly end?: Date };
}

interface SignTimes {
  /** The leaf to sign with (default: a fresh one from `issue`). */
  readonly cert?: IssuedCert;
  /** Options for that fresh leaf. */
  readonly issue?: IssueOptions;
  /** Unix seconds the log records (default: notBefore + 60 s). */
  readonly integratedTime?: number;
  /** The TSA genTime (default: notBefore + 60 s). */
  readonly timestampTime?: Date;
}

export interface LegacySignOptions extends SignTimes {
  readonly payload: Uint8Array;
  readonly identity: string;
  /** Log the signature in Rekor and write `dev.sigstore.cosign/bundle` (default true). */
  readonly tlog?: boolean;
  /** Write `dev.sigstore.cosign/rfc3161timestamp` over the signature bytes (default false). */
  readonly tsa?: boolean;
}

export interface LegacySignature {
  /** The layer annotations, as cosign writes them. */
  readonly annotations: Record<string, string>;
  readonly signature: Buffer;
  readonly cert?: IssuedCert;
  readonly rekor?: RekorEntry;
  /** DER TimeStampResp. */
  readonly timestamp?: Der;
}

export interface BundleSignOptions extends SignTimes {
  /** The in-toto statement; or give `digest` for cosign v3's sign statement over it. */
  readonly statement?: Uint8Array;
  readonly digest?: Digest;
  readonly identity: string;
  /** A Rekor v1 `dsse` 0.0.1 entry with SET, inclusion proof and checkpoint (default true). */
  readonly tlog?: boolean;
  /** An RFC 3161 timestamp over the DSSE signature bytes (default false). */
  readonly tsa?: boolean;
  readonly rekor?: 'v1';
}

export interface SignedBundle {
  /** The bundle v0.3 JSON (protojson member order, as cosign v3 writes it). */
  readonly json: string;
  /** `JSON.parse(json)`, to alter and re-serialize. */
  readonly bundle: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- a JSON tree
  readonly statement: Uint8Array;
  readonly signature: Buffer;
  readonly cert: IssuedCert;
  readonly rekor?: RekorEntry;
  readonly timestamp?: Der;
}

export interface TestSigstore {
  readonly now: Date;
  readonly trustedRootJson: string;
  readonly fulcio: { readonly root: CaCert; readonly intermediate: CaCert };
  readonly ctlog: TestCtLog;
  readonly rekor: TestRekorLog;
  readonly tsa: TestTsa;
  issue(identity: string, opts?: IssueOptions): IssuedCert;
  signLegacy(opts: LegacySignOptions): LegacySignature;
  signLegacyWithKey(opts: {
    payload: Uint8Array;
    privateKey: KeyObject;
    integratedTime?: number;
    tsa?: boolean;
    timestampTime?: Date;
  }): LegacySignature;
  signBundle(opts: BundleSignOptions): SignedBundle;
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** cosign's `dev.sigstore.cosign/bundle` (pkg/cosign/bundle RekorBundle, Go member order). */
export function rekorBundleAnnotation(e: RekorEntry): string {
  return goStruct([
    ['SignedEntryTimestamp', goString(b64(e.set))],
    [
      'Payload',
      goStruct([
        ['body', goString(b64(e.body))],
        ['integratedTime', goNumber(e.integratedTime)],
        ['logIndex', goNumber(e.logIndex)],
        ['logID', goString(e.logIdHex)],
      ]),
    ],
  ]);
}

/** A bundle `tlogEntries` member for a Rekor v1 entry (protojson: int64 as strings, bytes as base64). */
export function tlogEntryJson(e: RekorEntry, logId: Buffer, kind: string): RawJson {
  const p = e.proof;
  return goStruct([
    ['logIndex', goString(String(e.logIndex))],
    ['logId', goStruct([['keyId', goString(b64(logId))]])],
    [
      'kindVersion',
      goStruct([
        ['kind', goString(kind)],
        ['version', goString('0.0.1')],
      ]),
    ],
    ['integratedTime', goString(String(e.integratedTime))],
    ['inclusionPromise', goStruct([['signedEntryTimestamp', goString(b64(e.set))]])],
    [
      'inclusionProof',
      goStruct([
        ['logIndex', goString(String(p.logIndex))],
        ['rootHash', goString(b64(p.rootHash))],
        ['treeSize', goString(String(p.treeSize))],
        ['hashes', goArray(p.hashes.map((h) => goString(b64(h))))],
        ['checkpoint', goStruct([['envelope', goString(p.checkpoint)]])],
      ]),
    ],
    ['canonicalizedBody', goString(b64(e.body))],
  ]);
}

export function createTestSigstore(options: TestSigstoreOptions = {}): TestSigstore {
  const now = wholeSecond(options.now ?? new Date());
  const validFrom = options.validFor?.start ?? new Date(now.getTime() - 365 * DAY);
  const fulcio = makeCaPair(now, 'sigward.test', 'test-fulcio');
  const ctlog = createCtLog();
  const rekor = createRekorLog({ baseUrl: 'https://rekor.sigward.test' });
  const tsa = createTsa(fulcio.root.notBefore, fulcio.root.notAfter, 'https://tsa.sigward.test');

  const validFor = { start: validFrom.toISOString(), end: options.validFor?.end?.toISOString() };
  const logKey = (key: KeyObject, logId: Buffer, baseUrl: string): object => ({
    baseUrl,
    hashAlgorithm: 'SHA2_256',
    publicKey: { rawBytes: b64(spkiDer(key)), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor },
    logId: { keyId: b64(logId) },
  });
  const authority = (cn: string, uri: string, chain: readonly CaCert[]): object => ({
    subject: { organization: 'sigward.test', commonName: cn },
    uri,
    certChain: { certificates: chain.map((c) => ({ rawBytes: b64(c.der) })) },
    validFor,
  });
  const trustedRootJson = JSON.stringify(
    {
      mediaType: TRUSTED_ROOT_MEDIA_TYPE,
      tlogs: [logKey(rekor.publicKey, rekor.logId, rekor.baseUrl)],
      certificateAuthorities: [
        authority('test-fulcio', 'https://fulcio.sigward.test', [fulcio.intermediate, fulcio.root]),
      ],
      ctlogs: [logKey(ctlog.publicKey, ctlog.logId, 'https://ctfe.sigward.test')],
      timestampAuthorities: [authority('test-tsa', tsa.baseUrl, [tsa.signer, tsa.root])],
    },
    null,
    2,
  );

  const issue = (identity: string, opts: IssueOptions = {}): IssuedCert =>
    issueFulcioLeaf(fulcio, ctlog, now, identity, {
      ...opts,
      notBefore: opts.notBefore && wholeSecond(opts.notBefore),
      notAfter: opts.notAfter && wholeSecond(opts.notAfter),
    });
  const times = (o: SignTimes, cert?: IssuedCert): { integratedTime: number; timestampTime: Date } => {
    const at = new Date((cert?.notBefore ?? new Date(now.getTime() - 60_000)).getTime() + 60_000);
    return { integratedTime: o.integratedTime ?? at.getTime() / 1000, timestampTime: o.timestampTime ?? at };
  };

  function legacy(
    o: { payload: Uint8Array; tlog?: boolean; tsa?: boolean } & SignTimes,
    privateKey: KeyObject,
    cert: IssuedCert | undefined,
  ): LegacySignature {
    const signature = Buffer.from(signBytes(privateKey, o.payload));
    const annotations: Record<string, string> = { [ANNOTATION.signature]: toBase64(signature) };
    if (cert) {
      annotations[ANNOTATION.certificate] = cert.certPem;
      annotations[ANNOTATION.chain] = cert.chainPem;
    }
    const t = times(o, cert);
    let entry: RekorEntry | undefined;
    if (o.tlog !== false) {
      entry = rekor.append(
        hashedRekordBody(o.payload, signature, cert?.certPem ?? publicKeyPem(privateKey)),
        t.integratedTime,
      );
      annotations[ANNOTATION.bundle] = rekorBundleAnnotation(entry);
    }
    const timestamp = o.tsa ? tsa.timestamp(signature, t.timestampTime) : undefined;
    if (timestamp) annotations[ANNOTATION.rfc3161] = goStruct([['SignedRFC3161Timestamp', goString(b64(timestamp))]]);
    return { annotations, signature, cert, rekor: entry, timestamp };
  }

  return {
    now,
    trustedRootJson,
    fulcio,
    ctlog,
    rekor,
    tsa,
    issue,
    signLegacy(o) {
      const cert = o.cert ?? issue(o.identity, o.issue);
      return legacy(o, cert.privateKey, cert);
    },
    signLegacyWithKey: (o) => legacy(o, o.privateKey, undefined),
    signBundle(o) {
      if (o.rekor !== undefined && o.rekor !== 'v1') throw new Error(`signBundle: rekor ${String(o.rekor)}`);
      const statement = o.statement ?? (o.digest && cosignSignStatement({ digest: o.digest }));
      if (!statement) throw new Error('signBundle: give statement or digest');
      const cert = o.cert ?? issue(o.identity, o.issue);
      const signature = Buffer.from(signBytes(cert.privateKey, dssePae(IN_TOTO_PAYLOAD_TYPE, statement)));
      const envelope = goStruct([
        ['payload', goString(b64(statement))],
        ['payloadType', goString(IN_TOTO_PAYLOAD_TYPE)],
        ['signatures', goArray([goStruct([['sig', goString(b64(signature))]])])],
      ]);
      const t = times(o, cert);
      const entry =
        o.tlog === false
          ? undefined
          : rekor.append(dsseBody(envelope, statement, signature, cert.certPem), t.integratedTime);
      const timestamp = o.tsa ? tsa.timestamp(signature, t.timestampTime) : undefined;
      const json = goStruct([
        ['mediaType', goString(MT.sigstoreBundleV03)],
        [
          'verificationMaterial',
          goStruct([
            ['certificate', goStruct([['rawBytes', goString(b64(cert.certDer))]])],
            ['tlogEntries', entry && goArray([tlogEntryJson(entry, rekor.logId, 'dsse')])],
            [
              'timestampVerificationData',
              timestamp &&
                goStruct([['rfc3161Timestamps', goArray([goStruct([['signedTimestamp', goString(b64(timestamp))]])])]]),
            ],
          ]),
        ],
        ['dsseEnvelope', envelope],
      ]);
      return { json, bundle: JSON.parse(json), statement, signature, cert, rekor: entry, timestamp };
    },
  };
}

/** One trusted root that trusts every authority of the given ones. */
export function mergeTrustedRoots(...jsons: string[]): string {
  const roots = jsons.map((j) => JSON.parse(j) as Record<string, unknown[]>);
  const all = (k: string): unknown[] => roots.flatMap((r) => r[k] ?? []);
  return JSON.stringify({
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: all('tlogs'),
    certificateAuthorities: all('certificateAuthorities'),
    ctlogs: all('ctlogs'),
    timestampAuthorities: all('timestampAuthorities'),
  });
}

export interface TestCa {
  readonly root: CaCert;
  readonly intermediate: CaCert;
  readonly rootsPem: string;
  readonly intermediatesPem: string;
  issue(opts: PrivateIssueOptions): IssuedCert;
}

/** A private PKI (root + intermediate, ECDSA P-256) for long-lived signing certificates. */
export function createTestCa(options: { now?: Date } = {}): TestCa {
  const now = wholeSecond(options.now ?? new Date());
  const ca = makeCaPair(now, 'sigward.test', 'test-private-ca');
  return {
    ...ca,
    rootsPem: ca.root.pem,
    intermediatesPem: ca.intermediate.pem,
    issue: (opts) =>
      issuePrivateLeaf(ca, now, {
        ...opts,
        notBefore: opts.notBefore && wholeSecond(opts.notBefore),
        notAfter: opts.notAfter && wholeSecond(opts.notAfter),
      }),
  };
}
