// Who a certificate says signed: the subject alternative names, the OIDC issuer and the Fulcio claims, read from a
// certificate whose chain has already been verified, and matched against the identities a policy accepts.
//
// Reading (cosign pkg/cosign/verify.go CheckCertificatePolicy and certextensions.go; sigstore-go
// pkg/fulcio/certificate/extensions.go):
// - subject candidates: legacy `.sig` layers match against EVERY SAN (email, URI, DNS, IP, Fulcio OtherName), as
//   cosign's legacy path does; bundles match the first URI SAN, else the first email, else the OtherName, as
//   sigstore-go does;
// - issuer: OID 1.3.6.1.4.1.57264.1.8 (a DER UTF8String) or 1.3.6.1.4.1.57264.1.1 (the raw bytes). Real certificates
//   carry .1 alone (before 2023) or both with equal values; two different values are refused, not guessed at;
// - GitHub workflow claims .2 to .6 are raw bytes (cosign's --certificate-github-workflow-* flags compare them);
// - extended key usage must include codeSigning when the extension is present (Go's x509 treats an absent one as any).
// The extensions are read from the ASN.1 tree @sigstore/core already parsed for the chain check (the verifier and
// this module read the same bytes the same way, and nothing is parsed twice).
import { isAscii } from 'node:buffer';
import type { ASN1Obj, X509Certificate } from '@sigstore/core';
import { clip } from '../util/clip.ts';
import { ok, problem, type Parsed } from './outcome.ts';
import type { GithubClaim, StringMatch, TrustedIdentity } from './types.ts';

const FULCIO = '1.3.6.1.4.1.57264.1';
const OID_CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
const OID_OTHERNAME_SAN = `${FULCIO}.7`;
const OID_SAN = '2.5.29.17';
const OID_EKU = '2.5.29.37';

/** The raw-valued GitHub workflow claims (deprecated OIDs that Fulcio still writes). */
export const GITHUB_CLAIM_OID: Readonly<Record<GithubClaim, string>> = {
  trigger: `${FULCIO}.2`,
  sha: `${FULCIO}.3`,
  name: `${FULCIO}.4`,
  repository: `${FULCIO}.5`,
  ref: `${FULCIO}.6`,
};

export interface SubjectName {
  readonly type: 'email' | 'uri' | 'dns' | 'ip' | 'othername';
  readonly value: string;
}

export interface CertificateIdentity {
  /** Every SAN, in certificate order. */
  readonly names: readonly SubjectName[];
  readonly issuer?: string;
  readonly github: Readonly<Partial<Record<GithubClaim, string>>>;
}

/** Read the identity of a verified leaf; a problem when it cannot be a signing identity (no SAN, no codeSigning,
 * two different issuers, an undecodable extension). */
export function certificateIdentity(cert: X509Certificate): Parsed<CertificateIdentity> {
  try {
    const ext = extensionValues(cert);
    const eku = ext.get(OID_EKU);
    if (eku !== undefined) {
      const usages = inner(eku, 'extended key usage').subs.map((o) => o.toOID());
      if (!usages.includes(OID_CODE_SIGNING)) {
        return problem(`its extended key usage (${usages.join(', ')}) does not include code signing`);
      }
    }
    const san = ext.get(OID_SAN);
    const names = san === undefined ? [] : subjectNames(san);
    if (names.length === 0) return problem('it has no subject alternative name, so it names no signer');
    const v1 = ext.get(`${FULCIO}.1`)?.value.toString('utf8');
    const v2ext = ext.get(`${FULCIO}.8`);
    const v2 = v2ext === undefined ? undefined : derString(v2ext.value);
    if (v1 !== undefined && v2 !== undefined && v1 !== v2) {
      return problem(`it names two different OIDC issuers (${clip(v1)} and ${clip(v2)})`);
    }
    const github: Partial<Record<GithubClaim, string>> = {};
    for (const [claim, oid] of Object.entries(GITHUB_CLAIM_OID) as [GithubClaim, string][]) {
      const value = ext.get(oid);
      if (value !== undefined) github[claim] = value.value.toString('utf8');
    }
    const issuer = v2 ?? v1;
    return ok(issuer === undefined ? { names, github } : { names, issuer, github });
  } catch (e) {
    return problem(`its extensions cannot be decoded (${(e as Error).message})`);
  }
}

/** Each extension's extnValue by OID, read in one pass; a repeated extension is refused (as Go's x509 does). */
function extensionValues(cert: X509Certificate): Map<string, ASN1Obj> {
  const out = new Map<string, ASN1Obj>();
  for (const e of cert.extensions) {
    const oid = e.subs[0]?.toOID();
    const value = e.subs[e.subs.length - 1];
    if (oid === undefined || value === undefined || e.subs.length < 2) throw new Error('an extension is malformed');
    if (out.has(oid)) throw new Error(`extension ${oid} appears twice`);
    out.set(oid, value);
  }
  return out;
}

/** The DER value an extension's OCTET STRING wraps (@sigstore/core parses it when it is DER). */
function inner(extnValue: ASN1Obj, what: string): ASN1Obj {
  const v = extnValue.subs[0];
  if (v === undefined || extnValue.subs.length !== 1) throw new Error(`the ${what} extension is not DER`);
  return v;
}

/** An IA5String SAN value (rfc822Name, dNSName, URI): ASCII only, as Go's x509 parser requires. */
function ia5(g: ASN1Obj, what: string): string {
  if (!isAscii(g.value)) throw new Error(`${what} SAN is not ASCII`);
  return g.value.toString('latin1');
}

/** An iPAddress SAN as Go's net.IP.String() writes it, which cosign matches the subject against: dotted IPv4 (also for
 * an IPv4-mapped IPv6 address), else RFC 5952 (lowercase hex, the longest run of two or more zero groups as `::`, the
 * first of equal runs). */
function ipText(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  if (b.length !== 16) throw new Error(`an IP address SAN has ${b.length} bytes`);
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return [...b.subarray(12)].join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  let start = -1;
  let end = -1;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i >= 2 && j - i > end - start) [start, end] = [i, j];
  }
  const hex = (gs: readonly number[]): string => gs.map((g) => g.toString(16)).join(':');
  return start < 0 ? hex(groups) : `${hex(groups.slice(0, start))}::${hex(groups.slice(end))}`;
}

/** GeneralNames (RFC 5280 4.2.1.6): [0] otherName, [1] rfc822Name, [2] dNSName, [6] URI, [7] iPAddress; other kinds
 * (directory names, registered IDs) name no signer and are skipped. */
function subjectNames(extnValue: ASN1Obj): SubjectName[] {
  const out: SubjectName[] = [];
  for (const g of inner(extnValue, 'subject alternative name').subs) {
    if (!g.tag.isContextSpecific()) throw new Error('a subject alternative name is not a GeneralName');
    switch (g.tag.number) {
      case 1:
        out.push({ type: 'email', value: ia5(g, 'an email') });
        break;
      case 2:
        out.push({ type: 'dns', value: ia5(g, 'a DNS') });
        break;
      case 6:
        out.push({ type: 'uri', value: ia5(g, 'a URI') });
        break;
      case 7:
        out.push({ type: 'ip', value: ipText(g.value) });
        break;
      case 0: {
        // otherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }: Fulcio's is a UTF8String username.
        const [typeId, explicit] = g.subs;
        const value = explicit?.subs[0];
        if (typeId?.toOID() === OID_OTHERNAME_SAN && value !== undefined) {
          out.push({ type: 'othername', value: derString(value.toDER()) });
        }
        break;
      }
    }
  }
  return out;
}

/** A DER UTF8String/IA5String/PrintableString's text (the value of Fulcio's .8 to .22 extensions). */
function derString(der: Buffer): string {
  const tag = der[0];
  if (tag !== 0x0c && tag !== 0x16 && tag !== 0x13) throw new Error(`expected a DER string, found tag ${tag}`);
  let len = der[1] ?? 0;
  let at = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[2 + i] ?? 0);
    at = 2 + n;
  }
  if (at + len !== der.length) throw new Error('DER string length does not match its bytes');
  return der.subarray(at).toString('utf8');
}

/** Subjects a policy identity may match: every SAN for legacy layers; for bundles the first URI, else the first
 * email, else the OtherName (sigstore-go's summary). */
export function subjectCandidates(id: CertificateIdentity, format: 'legacy' | 'bundle'): string[] {
  if (format === 'legacy') return id.names.map((n) => n.value);
  for (const type of ['uri', 'email', 'othername'] as const) {
    const first = id.names.find((n) => n.type === type);
    if (first !== undefined) return [first.value];
  }
  return [];
}

/** How much of a certificate's subject, issuer or claim a mismatch message quotes: GitHub workflow URIs often run
 * past 100 characters, and what differs (a tag, a branch) is at their end. */
const QUOTED = 256;

export function matches(m: StringMatch, value: string): boolean {
  return 'exact' in m ? m.exact === value : m.re.test(value);
}

export function describeMatch(m: StringMatch): string {
  return 'exact' in m ? JSON.stringify(m.exact) : `/${m.regexp}/`;
}

/** Why `want` does not accept this certificate identity, or undefined when it does. */
export function identityMismatch(
  want: TrustedIdentity,
  id: CertificateIdentity,
  format: 'legacy' | 'bundle',
): string | undefined {
  if (want.issuer !== undefined) {
    if (id.issuer === undefined) return 'the certificate names no OIDC issuer';
    if (!matches(want.issuer, id.issuer)) {
      return `issuer ${JSON.stringify(clip(id.issuer, QUOTED))} does not match ${describeMatch(want.issuer)}`;
    }
  }
  const subjects = subjectCandidates(id, format);
  if (!subjects.some((s) => matches(want.subject, s))) {
    const got =
      subjects.length === 0 ? 'no usable subject' : subjects.map((s) => JSON.stringify(clip(s, QUOTED))).join(', ');
    return `subject ${got} does not match ${describeMatch(want.subject)}`;
  }
  for (const [claim, value] of Object.entries(want.github) as [GithubClaim, string][]) {
    const got = id.github[claim];
    if (got !== value) {
      return `GitHub ${claim} ${got === undefined ? 'is absent' : JSON.stringify(clip(got, QUOTED))}, want ${JSON.stringify(value)}`;
    }
  }
  return undefined;
}
