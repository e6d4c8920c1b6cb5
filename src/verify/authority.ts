// Trust authorities for certificate-based signatures, built ONCE at config load (as sigstore-js's createVerifier
// builds its trust material once), so verifying a signature never parses a root again:
// - a Sigstore trust root (`trusted_root.json`: Fulcio CAs, CT logs, Rekor logs, timestamp authorities), read through
//   the sigstore project's own types and turned into @sigstore/verify trust material;
// - a private CA (PEM roots and optional intermediates) for certificates issued without Fulcio or Rekor.
import { createHash, X509Certificate as NodeX509 } from 'node:crypto';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, type TrustMaterial } from '@sigstore/verify';
import { SigwardError } from '../errors.ts';
import { clip } from '../util/clip.ts';
import { rememberTrusted } from './trusted-certificates.ts';

export const TRUSTED_ROOT_MEDIA_TYPE_RE =
  /^application\/vnd\.dev\.sigstore\.trustedroot(?:\+json;version=0\.1|\.v0\.[12]\+json)$/;

export interface TrustAuthority {
  /** The name under `trust.roots` or `trust.cas`. */
  readonly name: string;
  /** `root`: a Sigstore trust root (Fulcio, CT logs, Rekor, TSAs); `ca`: a private CA without logs. */
  readonly kind: 'root' | 'ca';
  /** What @sigstore/verify checks chains, SCTs, tlog entries and timestamps against. Its `publicKey` finder knows
   * no keys: key signatures that must be logged get a finder for their own trusted key (see keyless.ts). */
  readonly material: TrustMaterial;
  /** sha256 hex of the source bytes, for the policy hash: a changed root is a changed policy. */
  readonly fingerprint: string;
  /** For check-config and startup lines: how much trust the authority carries. */
  readonly counts: { readonly cas: number; readonly ctlogs: number; readonly tlogs: number; readonly tsas: number };
}

/** Parse a `trusted_root.json` (protobuf-JSON, media types 0.1 and 0.2). Throws TRUST_INVALID saying what to fix. */
export function parseTrustedRoot(name: string, text: string): TrustAuthority {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw invalid(name, `is not JSON (${clip((e as Error).message, 120)}); expected a trusted_root.json`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw invalid(name, 'is not a JSON object; expected a trusted_root.json');
  }
  const mediaType = (json as Record<string, unknown>)['mediaType'];
  if (typeof mediaType !== 'string' || !TRUSTED_ROOT_MEDIA_TYPE_RE.test(mediaType)) {
    throw invalid(
      name,
      `has media type ${JSON.stringify(mediaType)}, expected application/vnd.dev.sigstore.trustedroot+json;version=0.1 ` +
        '(or .v0.2+json): is this a trusted_root.json (not a TUF root.json or a signing config)?',
    );
  }
  let material: TrustMaterial;
  try {
    material = toTrustMaterial(TrustedRoot.fromJSON(json));
  } catch (e) {
    throw invalid(name, `cannot be read: ${(e as Error).message}`);
  }
  if (material.certificateAuthorities.length === 0 && material.tlogs.length === 0) {
    throw invalid(name, 'has neither certificate authorities nor transparency logs: it can verify nothing');
  }
  return authority({
    name,
    kind: 'root',
    material,
    fingerprint: sha256(text),
    counts: {
      cas: material.certificateAuthorities.length,
      ctlogs: material.ctlogs.length,
      tlogs: material.tlogs.length,
      tsas: material.timestampAuthorities.length,
    },
  });
}

/** A TUF-kept trust root whose trusted_root.json is not known yet (check-config before the daemon's first fetch):
 * it trusts nothing, and the daemon never verifies with one (it fetches the root before it serves, or refuses to
 * start). The policy compiles around it, so every other problem of the config is still reported. */
export function pendingRoot(name: string): TrustAuthority {
  const material = toTrustMaterial(
    TrustedRoot.fromJSON({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1' }),
  );
  return authority({
    name,
    kind: 'root',
    material,
    fingerprint: 'not-fetched',
    counts: { cas: 0, ctlogs: 0, tlogs: 0, tsas: 0 },
  });
}

/** A private CA: every root must be a self-signed CA certificate; intermediates (optional) must be CAs too. The
 * chain of a signature may bring further intermediates, but a path must end at one of these roots. */
export function privateCa(name: string, rootsPem: string, intermediatesPem?: string): TrustAuthority {
  const roots = certificates(name, 'roots', rootsPem);
  if (roots.length === 0) throw invalid(name, 'roots: no CERTIFICATE block found; give the PEM root certificate(s)');
  for (const [i, der] of roots.entries()) {
    const c = new NodeX509(der);
    if (!c.ca) throw invalid(name, `roots: certificate ${i + 1} (${subjectOf(c)}) is not a CA`);
    if (!c.checkIssued(c) || !c.verify(c.publicKey)) {
      throw invalid(name, `roots: certificate ${i + 1} (${subjectOf(c)}) is not self-signed`);
    }
  }
  const intermediates = intermediatesPem === undefined ? [] : certificates(name, 'intermediates', intermediatesPem);
  for (const [i, der] of intermediates.entries()) {
    const c = new NodeX509(der);
    if (!c.ca) throw invalid(name, `intermediates: certificate ${i + 1} (${subjectOf(c)}) is not a CA`);
  }
  // Through the same builder as a trusted_root.json (a CA valid at all times, no logs, no keys), so chains are
  // checked by the same code.
  const root = TrustedRoot.fromJSON({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    certificateAuthorities: [
      { certChain: { certificates: [...intermediates, ...roots].map((der) => ({ rawBytes: b64(der) })) } },
    ],
  });
  const material = toTrustMaterial(root);
  return authority({
    name,
    kind: 'ca',
    material,
    fingerprint: sha256(rootsPem + '\n--intermediates--\n' + (intermediatesPem ?? '')),
    counts: { cas: roots.length, ctlogs: 0, tlogs: 0, tsas: 0 },
  });
}

/** Frozen at the top only: the compiled policy is deep-frozen, but the sigstore objects inside `material` are the
 * library's own (they may cache what they parse), so freezing stops here. */
function authority(a: TrustAuthority): TrustAuthority {
  rememberTrusted(a.material.certificateAuthorities.flatMap((ca) => ca.certChain));
  rememberTrusted(a.material.timestampAuthorities.flatMap((ca) => ca.certChain));
  Object.freeze(a.counts);
  return Object.freeze(a);
}

const CERT_RE = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n \t]+?)-----END CERTIFICATE-----/g;

/** The DER of each CERTIFICATE block of a PEM text; refuses any other block kind. */
export function certificates(name: string, what: string, pem: string): Uint8Array[] {
  const labels = [...pem.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((m) => m[1]);
  const other = labels.find((l) => l !== 'CERTIFICATE');
  if (other !== undefined)
    throw invalid(name, `${what}: found a "${other}" PEM block; only CERTIFICATE blocks belong here`);
  const out: Uint8Array[] = [];
  for (const m of pem.matchAll(CERT_RE)) {
    const der = Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64');
    try {
      new NodeX509(der);
    } catch (e) {
      throw invalid(
        name,
        `${what}: certificate ${out.length + 1} is not a valid X.509 certificate (${(e as Error).message})`,
      );
    }
    out.push(der);
  }
  if (out.length !== labels.length) throw invalid(name, `${what}: a CERTIFICATE block is malformed`);
  return out;
}

/** A certificate's subject on one line (node separates its RDNs with newlines; a problem is one line). */
function subjectOf(c: NodeX509): string {
  return c.subject.replaceAll('\n', ', ') || 'empty subject';
}

function b64(der: Uint8Array): string {
  return Buffer.from(der).toString('base64');
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function invalid(name: string, what: string): SigwardError {
  return new SigwardError('TRUST_INVALID', `trust authority "${name}": ${what}`);
}
