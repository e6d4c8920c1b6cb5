// DER for the test sigstore (test-sigstore.ts): the few ASN.1 types X.509 certificates, CT precertificate TBS
// and RFC 3161 tokens need, encoded canonically so a verifier that re-encodes what it parsed (as
// @sigstore/core does for the SCT check) gets the same bytes back. Certificates are assembled and signed here
// (ECDSA P-256 with SHA-256; RSA PKCS#1 v1.5 with SHA-256 for an RSA signer, as test-certs.ts's token signer is)
// from a list of extensions, so the callers decide every extension and its order.
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

/** DER bytes (an ArrayBuffer-backed Buffer, as @sigstore/core's parsers take). */
export type Der = Buffer<ArrayBuffer>;

function tlv(tag: number, content: Uint8Array): Der {
  const n = content.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

export const seq = (...items: Uint8Array[]): Der => tlv(0x30, Buffer.concat(items));
/** SET OF: DER orders the members by their encodings. */
export const set = (...items: Uint8Array[]): Der =>
  tlv(0x31, Buffer.concat([...items].sort((a, b) => Buffer.compare(a, b))));
/** [n] EXPLICIT (or [n] IMPLICIT of a constructed type: same bytes given the inner content). */
export const ctx = (n: number, ...items: Uint8Array[]): Der => tlv(0xa0 | n, Buffer.concat(items));
/** [n] IMPLICIT of a primitive type (GeneralName rfc822Name [1], uniformResourceIdentifier [6], keyIdentifier [0]). */
export const ctxPrim = (n: number, content: Uint8Array): Der => tlv(0x80 | n, content);
export const octets = (b: Uint8Array): Der => tlv(0x04, b);
export const utf8String = (s: string): Der => tlv(0x0c, Buffer.from(s, 'utf8'));
export const bool = (b: boolean): Der => tlv(0x01, Buffer.from([b ? 0xff : 0x00]));
export const nul = (): Der => Buffer.from([0x05, 0x00]);
export const bitString = (bytes: Uint8Array, unusedBits = 0): Der =>
  tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes]));

/** A non-negative INTEGER, minimally encoded (a leading 0x00 only where the top bit is set). */
export function int(v: number | bigint | Uint8Array): Der {
  let bytes: Buffer;
  if (v instanceof Uint8Array) bytes = Buffer.from(v);
  else {
    let hex = BigInt(v).toString(16);
    if (hex.length % 2) hex = `0${hex}`;
    bytes = Buffer.from(hex, 'hex');
  }
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  bytes = bytes.subarray(i);
  if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}

export function oid(dotted: string): Der {
  const arcs = dotted.split('.').map((a) => BigInt(a));
  const [a = 0n, b = 0n, ...rest] = arcs;
  const out: number[] = [];
  for (const arc of [a * 40n + b, ...rest]) {
    const groups: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) groups.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...groups);
  }
  return tlv(0x06, Buffer.from(out));
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
const clock = (d: Date): string =>
  `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;
export const generalizedTime = (d: Date): Der => tlv(0x18, Buffer.from(`${pad(d.getUTCFullYear(), 4)}${clock(d)}`));
export const utcTime = (d: Date): Der => tlv(0x17, Buffer.from(`${pad(d.getUTCFullYear() % 100)}${clock(d)}`));
/** RFC 5280 Time: UTCTime through 2049, GeneralizedTime after. */
export const x509Time = (d: Date): Der => (d.getUTCFullYear() < 2050 ? utcTime(d) : generalizedTime(d));

export const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha256: '2.16.840.1.101.3.4.2.1',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  extKeyUsage: '2.5.29.37',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  sctList: '1.3.6.1.4.1.11129.2.4.2',
} as const;

export const algId = (dotted: string, withNull = false): Der => (withNull ? seq(oid(dotted), nul()) : seq(oid(dotted)));

/** A distinguished name of O then CN (UTF8String values); no arguments gives the empty name Fulcio leaves have. */
export function name(dn: { o?: string; cn?: string } = {}): Der {
  const rdns: Der[] = [];
  if (dn.o !== undefined) rdns.push(set(seq(oid(OID.organization), utf8String(dn.o))));
  if (dn.cn !== undefined) rdns.push(set(seq(oid(OID.commonName), utf8String(dn.cn))));
  return seq(...rdns);
}

export const extension = (dotted: string, critical: boolean, value: Uint8Array): Der =>
  critical ? seq(oid(dotted), bool(true), octets(value)) : seq(oid(dotted), octets(value));

/** Key usage bits as RFC 5280 numbers them (0 digitalSignature, 5 keyCertSign, 6 cRLSign), critical. */
export function keyUsage(...bits: number[]): Der {
  let v = 0;
  for (const b of bits) v |= 0x80 >> b;
  let unused = 0;
  while (unused < 7 && !(v & (1 << unused))) unused++;
  return extension(OID.keyUsage, true, bitString(Buffer.from([v]), unused));
}
export const extKeyUsage = (...oids: string[]): Der => extension(OID.extKeyUsage, false, seq(...oids.map(oid)));
export const caConstraints = (pathLen?: number): Der =>
  extension(OID.basicConstraints, true, pathLen === undefined ? seq(bool(true)) : seq(bool(true), int(pathLen)));
/** basicConstraints CA:FALSE (the empty SEQUENCE: cA defaults to false), not critical. */
export const endEntityConstraints = (): Der => extension(OID.basicConstraints, false, seq());

/** GeneralName dNSName [2]. */
export const dnsName = (host: string): Der => ctxPrim(2, Buffer.from(host, 'ascii'));
/** GeneralName iPAddress [7] of a dotted IPv4 address: its four bytes. */
export function ipAddress(dotted: string): Der {
  const bytes = dotted.split('.').map(Number);
  if (bytes.length !== 4 || bytes.some((b) => !Number.isInteger(b) || b < 0 || b > 255)) {
    throw new Error(`ipAddress: ${dotted} is not a dotted IPv4 address`);
  }
  return ctxPrim(7, Buffer.from(bytes));
}
/** subjectAltName of the given GeneralNames, in order. */
export const subjectAltName = (critical: boolean, ...names: Uint8Array[]): Der =>
  extension(OID.subjectAltName, critical, seq(...names));

export const newP256 = (): { privateKey: KeyObject; publicKey: KeyObject } =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' });

export function spkiDer(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}
/** The AlgorithmIdentifier of a SHA-256 signature by `key`: ecdsa-with-SHA256, or sha256WithRSAEncryption (NULL
 * parameters, as RFC 4055 requires) for an RSA key. */
export function signatureAlgorithm(key: KeyObject): Der {
  const type = key.asymmetricKeyType;
  if (type === 'ec') return algId(OID.ecdsaWithSha256);
  if (type === 'rsa') return algId(OID.sha256WithRsa, true);
  throw new Error(`signatureAlgorithm: no SHA-256 certificate signature for a ${type ?? 'symmetric'} key`);
}

/** Subject key identifier: SHA-1 of the SPKI (any stable 20 bytes serve; path building matches on it). */
export const keyId = (key: KeyObject): Buffer => createHash('sha1').update(spkiDer(key)).digest();
export const subjectKeyId = (key: KeyObject): Der => extension(OID.subjectKeyId, false, octets(keyId(key)));
export const authorityKeyId = (issuerKey: KeyObject): Der =>
  extension(OID.authorityKeyId, false, seq(ctxPrim(0, keyId(issuerKey))));

/** 20 random bytes, positive, as CAs like Fulcio draw serials. */
export function randomSerial(): Buffer {
  const b = randomBytes(20);
  b[0] = (b[0] ?? 0) & 0x7f || 0x01;
  return b;
}

export interface TbsSpec {
  readonly serial: Uint8Array;
  readonly issuer: Der;
  readonly subject: Der;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The certified key (public or private KeyObject). */
  readonly key: KeyObject;
  readonly extensions: readonly Der[];
  /** The key that will sign (public or private), naming the signature algorithm; default ECDSA with SHA-256. */
  readonly signer?: KeyObject;
}

export function tbsCertificate(spec: TbsSpec): Der {
  return seq(
    ctx(0, int(2)),
    int(spec.serial),
    spec.signer ? signatureAlgorithm(spec.signer) : algId(OID.ecdsaWithSha256),
    spec.issuer,
    seq(x509Time(spec.notBefore), x509Time(spec.notAfter)),
    spec.subject,
    spkiDer(spec.key),
    ...(spec.extensions.length ? [ctx(3, seq(...spec.extensions))] : []),
  );
}

/** Certificate ::= SEQUENCE { tbs, signatureAlgorithm, BIT STRING signature }: ecdsa-with-SHA256, or
 * sha256WithRSAEncryption (PKCS#1 v1.5) for an RSA key, whose TBS must then have been made with `signer`. */
export const signCertificate = (tbs: Der, signingKey: KeyObject): Der =>
  seq(tbs, signatureAlgorithm(signingKey), bitString(sign('sha256', tbs, signingKey)));

export function pem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}
