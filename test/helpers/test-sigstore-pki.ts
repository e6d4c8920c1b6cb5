// Certificate authorities for the test sigstore (test-sigstore.ts): a root + intermediate CA (ECDSA P-256), the
// Fulcio-style short-lived leaf with its OID 1.3.6.1.4.1.57264.1.* claims and embedded SCT, and the private
// PKI of `createTestCa` (long-lived leaves, no Fulcio extensions).
import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  authorityKeyId,
  caConstraints,
  ctxPrim,
  extension,
  extKeyUsage,
  keyUsage,
  name,
  newP256,
  OID,
  oid,
  pem,
  randomSerial,
  seq,
  signCertificate,
  subjectKeyId,
  tbsCertificate,
  utf8String,
  type Der,
} from './test-sigstore-der.ts';
import { sctListExtension, type TestCtLog } from './test-sigstore-ct.ts';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

export interface CaCert {
  readonly der: Der;
  readonly pem: string;
  readonly subject: Der;
  readonly serial: Buffer;
  readonly privateKey: KeyObject;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** A self-signed root or, with `issuer`, an intermediate: CA, keyCertSign + cRLSign, SKI/AKI. */
export function makeCaCert(
  dn: { o: string; cn: string },
  notBefore: Date,
  notAfter: Date,
  issuer?: CaCert,
  extraExtensions: readonly Der[] = [],
): CaCert {
  const { privateKey } = newP256();
  const subject = name(dn);
  const serial = randomSerial();
  const signer = issuer?.privateKey ?? privateKey;
  const tbs = tbsCertificate({
    serial,
    issuer: issuer?.subject ?? subject,
    subject,
    notBefore,
    notAfter,
    key: privateKey,
    extensions: [
      keyUsage(5, 6),
      caConstraints(issuer ? 0 : undefined),
      subjectKeyId(privateKey),
      authorityKeyId(signer),
      ...extraExtensions,
    ],
  });
  const der = signCertificate(tbs, signer);
  return { der, pem: pem(der), subject, serial, privateKey, notBefore, notAfter };
}

/** Root + intermediate valid from a year before `now` for ten years. */
export function makeCaPair(now: Date, org: string, cn: string): { root: CaCert; intermediate: CaCert } {
  const from = new Date(now.getTime() - 365 * DAY);
  const to = new Date(now.getTime() + 3650 * DAY);
  const root = makeCaCert({ o: org, cn }, from, to);
  const intermediate = makeCaCert({ o: org, cn: `${cn}-intermediate` }, from, to, root);
  return { root, intermediate };
}

export interface IssuedCert {
  readonly certPem: string;
  readonly certDer: Der;
  /** Intermediate then root, PEM (cosign's `dev.sigstore.cosign/chain`). */
  readonly chainPem: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

function leaf(
  ca: { root: CaCert; intermediate: CaCert },
  certDer: Der,
  privateKey: KeyObject,
  validity: { notBefore: Date; notAfter: Date },
): IssuedCert {
  return {
    certPem: pem(certDer),
    certDer,
    chainPem: ca.intermediate.pem + ca.root.pem,
    privateKey,
    publicKey: createPublicKey(privateKey),
    notBefore: validity.notBefore,
    notAfter: validity.notAfter,
  };
}

/** SAN as Fulcio writes it: an email (rfc822Name) when the identity has `@` and no `://`, else a URI. */
export function sanExtension(identity: string, critical: boolean): Der {
  const email = identity.includes('@') && !identity.includes('://');
  return extension(OID.subjectAltName, critical, seq(ctxPrim(email ? 1 : 6, Buffer.from(identity, 'ascii'))));
}

/** GitHub claims of the v1 Fulcio extensions (.2-.6), written as raw bytes. */
export interface GithubClaimsV1 {
  readonly trigger?: string;
  readonly sha?: string;
  readonly workflowName?: string;
  readonly repository?: string;
  readonly ref?: string;
}

/** The v2 Fulcio claims (.9-.22), written as DER UTF8String. */
export const FULCIO_V2_CLAIMS = {
  buildSignerURI: 9,
  buildSignerDigest: 10,
  runnerEnvironment: 11,
  sourceRepositoryURI: 12,
  sourceRepositoryDigest: 13,
  sourceRepositoryRef: 14,
  sourceRepositoryIdentifier: 15,
  sourceRepositoryOwnerURI: 16,
  sourceRepositoryOwnerIdentifier: 17,
  buildConfigURI: 18,
  buildConfigDigest: 19,
  buildTrigger: 20,
  runInvocationURI: 21,
  sourceRepositoryVisibilityAtSigning: 22,
} as const;
export type FulcioV2Claims = Partial<Record<keyof typeof FULCIO_V2_CLAIMS, string>>;

export interface IssueOptions {
  /** Default: `now` minus one minute. */
  readonly notBefore?: Date;
  /** Default: `notBefore` plus ten minutes (Fulcio's lifetime). */
  readonly notAfter?: Date;
  /** The OIDC issuer. Default: Google's for an email identity, GitHub Actions' for a URI. */
  readonly issuer?: string;
  /** Which issuer extension(s): .1 (v1, raw bytes), .8 (v2, UTF8String) or both (default, .1 first). */
  readonly issuerOids?: 'v1' | 'v2' | 'both';
  readonly github?: GithubClaimsV1;
  readonly githubV2?: FulcioV2Claims;
  /** Embed a precertificate SCT from the CT log (default true). */
  readonly sct?: boolean;
  /** The codeSigning EKU (default true). */
  readonly eku?: boolean;
  /** Appended after the claims, before the SCT (odd cases: duplicates, unknown critical extensions). */
  readonly extraExtensions?: readonly Der[];
}

const FULCIO = '1.3.6.1.4.1.57264.1';
const GITHUB_V1: ReadonlyArray<readonly [keyof GithubClaimsV1, number]> = [
  ['trigger', 2],
  ['sha', 3],
  ['workflowName', 4],
  ['repository', 5],
  ['ref', 6],
];

export function defaultIssuer(identity: string): string {
  return identity.includes('@') && !identity.includes('://')
    ? 'https://accounts.google.com'
    : 'https://token.actions.githubusercontent.com';
}

/** A Fulcio-style leaf: empty subject, keyUsage digitalSignature (critical), EKU codeSigning, SKI, AKI, SAN
 * (critical), the issuer/claims extensions in Fulcio's order, then the SCT list. */
export function issueFulcioLeaf(
  ca: { root: CaCert; intermediate: CaCert },
  ctlog: TestCtLog,
  now: Date,
  identity: string,
  opts: IssueOptions = {},
): IssuedCert {
  const { privateKey, publicKey } = newP256();
  const notBefore = opts.notBefore ?? new Date(now.getTime() - MINUTE);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + 10 * MINUTE);
  const issuer = opts.issuer ?? defaultIssuer(identity);
  const which = opts.issuerOids ?? 'both';
  const raw = (arc: number, v: string): Der => extension(`${FULCIO}.${arc}`, false, Buffer.from(v, 'utf8'));
  const claims: Der[] = [];
  if (which !== 'v2') claims.push(raw(1, issuer));
  for (const [field, arc] of GITHUB_V1) {
    const v = opts.github?.[field];
    if (v !== undefined) claims.push(raw(arc, v));
  }
  if (which !== 'v1') claims.push(extension(`${FULCIO}.8`, false, utf8String(issuer)));
  for (const [field, arc] of Object.entries(FULCIO_V2_CLAIMS)) {
    const v = opts.githubV2?.[field as keyof FulcioV2Claims];
    if (v !== undefined) claims.push(extension(`${FULCIO}.${arc}`, false, utf8String(v)));
  }
  const extensions = [
    keyUsage(0),
    ...(opts.eku === false ? [] : [extKeyUsage(OID.codeSigning)]),
    subjectKeyId(publicKey),
    authorityKeyId(ca.intermediate.privateKey),
    sanExtension(identity, true),
    ...claims,
    ...(opts.extraExtensions ?? []),
  ];
  const spec = {
    serial: randomSerial(),
    issuer: ca.intermediate.subject,
    subject: name(),
    notBefore,
    notAfter,
    key: publicKey,
    extensions,
  };
  if (opts.sct !== false) {
    const precertTbs = tbsCertificate(spec);
    const issuerSpki = createPublicKey(ca.intermediate.privateKey).export({ type: 'spki', format: 'der' });
    const sct = ctlog.sign(precertTbs, issuerSpki, notBefore);
    spec.extensions = [...extensions, sctListExtension([sct])];
  }
  return leaf(ca, signCertificate(tbsCertificate(spec), ca.intermediate.privateKey), privateKey, spec);
}

export interface PrivateIssueOptions {
  /** An email (rfc822Name SAN) or a URI (URI SAN). */
  readonly subject: string;
  /** Default: one hour before `now`. */
  readonly notBefore?: Date;
  /** Default: a year after `now`. */
  readonly notAfter?: Date;
  /** The codeSigning EKU (default true). */
  readonly eku?: boolean;
}

/** A leaf of a private PKI: subject CN = the identity, non-critical SAN, no Fulcio extensions, no SCT. */
export function issuePrivateLeaf(
  ca: { root: CaCert; intermediate: CaCert },
  now: Date,
  opts: PrivateIssueOptions,
): IssuedCert {
  const { privateKey, publicKey } = newP256();
  const notBefore = opts.notBefore ?? new Date(now.getTime() - 60 * MINUTE);
  const notAfter = opts.notAfter ?? new Date(now.getTime() + 365 * DAY);
  const spec = {
    serial: randomSerial(),
    issuer: ca.intermediate.subject,
    subject: name({ cn: opts.subject }),
    notBefore,
    notAfter,
    key: publicKey,
    extensions: [
      keyUsage(0),
      ...(opts.eku === false ? [] : [extKeyUsage(OID.codeSigning)]),
      subjectKeyId(publicKey),
      authorityKeyId(ca.intermediate.privateKey),
      sanExtension(opts.subject, false),
    ],
  };
  return leaf(ca, signCertificate(tbsCertificate(spec), ca.intermediate.privateKey), privateKey, spec);
}

/** The TSA's signing certificate: not a CA, EKU timeStamping (critical, as RFC 3161 requires). */
export function makeTsaSigningCert(root: CaCert): CaCert {
  const { privateKey } = newP256();
  const subject = name({ o: 'sigward.test', cn: 'test-tsa' });
  const serial = randomSerial();
  const der = signCertificate(
    tbsCertificate({
      serial,
      issuer: root.subject,
      subject,
      notBefore: root.notBefore,
      notAfter: root.notAfter,
      key: privateKey,
      extensions: [
        keyUsage(0),
        extension(OID.extKeyUsage, true, seq(oid(OID.timeStamping))),
        subjectKeyId(privateKey),
        authorityKeyId(root.privateKey),
      ],
    }),
    root.privateKey,
  );
  return { der, pem: pem(der), subject, serial, privateKey, notBefore: root.notBefore, notAfter: root.notAfter };
}
