// Certificate and transparency-log checks, done by the sigstore project's own verifier (@sigstore/verify): certificate
// chains to a CA of the trust root valid at a TRUSTED time (the Rekor entry's integrated time under a verified SET, or
// an RFC 3161 timestamp from a TSA of the root; never the clock), embedded SCTs against the root's CT logs, Rekor
// SETs, inclusion proofs and checkpoints, and the logged signature and digest. This module adds what that verifier
// leaves to its caller: the logged key or certificate must be this signer's (tlog-binding.ts), the leaf must be a
// code-signing certificate, and the identity must be one the policy accepts (identity.ts).
// Private CAs (no Fulcio, no logs) are checked by the same chain builder at the caller's time.
import { createPublicKey } from 'node:crypto';
import type { Bundle } from '@sigstore/bundle';
import { X509Certificate } from '@sigstore/core';
import { toSignedEntity, Verifier, type SignedEntity, type TrustMaterial } from '@sigstore/verify';
import { verifyCertificateChain } from '@sigstore/verify/dist/key/certificate.js';
import type { TrustAuthority } from './authority.ts';
import { certificateIdentity, identityMismatch, type CertificateIdentity } from './identity.ts';
import { bindingProblem } from './tlog-binding.ts';
import { encode, rememberEncoding } from './trusted-certificates.ts';
import type { RejectReason, TrustedKey, VerifyContext } from './types.ts';

export type Failure = { readonly ok: false; readonly reason: RejectReason; readonly message: string };
export type SignersResult =
  { readonly ok: true; readonly signers: readonly string[]; readonly signer?: string } | Failure;

/** Names of the policy identities that accept this certificate-signed bundle. `intermediates` (from a legacy layer's
 * chain annotation) may complete paths to a private CA; Sigstore roots use only their own chains. */
export function certificateSigners(
  bundle: Bundle | undefined,
  artifact: Buffer | undefined,
  format: 'legacy' | 'bundle',
  ctx: VerifyContext,
  intermediates: readonly Uint8Array[] = [],
): SignersResult {
  const identities = ctx.identities ?? [];
  if (identities.length === 0) {
    return fail(
      'unknown-key',
      'it is a certificate (keyless) signature, and the policy names no certificate identities (`identities:`) to check it against',
    );
  }
  if (bundle === undefined) return fail('malformed', 'it carries no readable signing material');
  let entity: SignedEntity;
  try {
    entity = toSignedEntity(bundle, artifact);
  } catch (e) {
    return fail('malformed', `its signing material cannot be read: ${describe(e)}`);
  }
  if (entity.key.$case !== 'certificate') return fail('malformed', 'it carries no certificate');
  const leaf = entity.key.certificate;
  rememberEncoding(leaf, leafBytes(bundle));
  const authorities = [...new Set(identities.map((i) => i.authority))];
  const failures: Failure[] = [];
  const signers: string[] = [];
  let signer: string | undefined;
  const mismatches: string[] = [];
  for (const authority of authorities) {
    const checked = checkUnder(authority, entity, leaf, ctx, intermediates);
    if (!checked.ok) {
      failures.push({ ...checked, message: `${authority.kind} "${authority.name}": ${checked.message}` });
      continue;
    }
    signer ??= signerOf(checked.identity);
    for (const want of identities.filter((i) => i.authority === authority)) {
      const why = identityMismatch(want, checked.identity, format);
      if (why === undefined) signers.push(want.name);
      else mismatches.push(`identity "${want.name}": ${why}`);
    }
  }
  if (signers.length > 0) return signer === undefined ? { ok: true, signers } : { ok: true, signers, signer };
  if (mismatches.length > 0) return fail('wrong-identity', `the certificate is trusted but ${mismatches.join('; ')}`);
  const [first] = failures;
  if (failures.length === 1 && first !== undefined) return first;
  return fail(first?.reason ?? 'untrusted-certificate', failures.map((f) => f.message).join('; '));
}

/** The bytes toSignedEntity parsed the leaf from. */
function leafBytes(bundle: Bundle): Uint8Array | undefined {
  const c = bundle.verificationMaterial.content;
  if (c.$case === 'certificate') return c.certificate.rawBytes;
  if (c.$case === 'x509CertificateChain') return c.x509CertificateChain.certificates[0]?.rawBytes;
  return undefined;
}

/** One certificate signer, whichever identities accept it: the OIDC issuer and every subject name. Threshold counting
 * counts these, so one certificate matched by two identities (or two certificates of one person) is one signer. */
function signerOf(id: CertificateIdentity): string {
  return JSON.stringify([id.issuer ?? '', id.names.map((n) => `${n.type}:${n.value}`).sort()]);
}

/** A key signature that must be logged: its tlog entry verified against `root`'s logs and bound to `key`. */
export function loggedKeySignature(
  bundle: Bundle,
  artifact: Buffer | undefined,
  key: TrustedKey,
  root: TrustAuthority,
): Failure | undefined {
  if (bundle.verificationMaterial.tlogEntries.length === 0) {
    return fail(
      'tlog-invalid',
      `the policy requires a transparency-log entry (tlog: required) and the signature by key "${key.name}" has none`,
    );
  }
  const named: Bundle = {
    ...bundle,
    verificationMaterial: {
      ...bundle.verificationMaterial,
      content: { $case: 'publicKey', publicKey: { hint: key.name } },
    },
  };
  const material: TrustMaterial = {
    ...root.material,
    publicKey: () => ({ publicKey: key.key, validFor: () => true }),
  };
  try {
    new Verifier(material, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 0 }).verify(
      toSignedEntity(named, artifact),
    );
  } catch (e) {
    return sigstoreFailure(e, `root "${root.name}": `);
  }
  const binding = bindingProblem(bundle.verificationMaterial.tlogEntries, { spki: key.spkiDer });
  return binding === undefined ? undefined : fail('tlog-invalid', binding);
}

type Checked = { readonly ok: true; readonly identity: CertificateIdentity } | Failure;

function checkUnder(
  authority: TrustAuthority,
  entity: SignedEntity,
  leaf: X509Certificate,
  ctx: VerifyContext,
  intermediates: readonly Uint8Array[],
): Checked {
  if (authority.kind === 'root') {
    try {
      verifierFor(authority.material, ctx.identityTlog ?? true).verify(entity);
    } catch (e) {
      return sigstoreFailure(e, '');
    }
  } else {
    if (ctx.now === undefined)
      return fail('untrusted-certificate', 'no time was given to check a private-CA certificate at');
    let path: X509Certificate[];
    try {
      path = verifyCertificateChain(ctx.now, leaf, withIntermediates(authority.material, intermediates));
    } catch (e) {
      return sigstoreFailure(e, '');
    }
    // The chain builder accepts a path through ANY certificate it was given, and the signature's own intermediates
    // were given to it too: a self-signed one of them (issuer name not its subject) would pass for a root.
    if (!path.some((c) => ofAuthority(authority.material, c))) {
      return fail(
        'untrusted-certificate',
        'its certificate path does not reach a certificate of the CA, only ones the signature brought itself',
      );
    }
    if (!signatureVerifies(entity, leaf))
      return fail('bad-signature', 'the signature does not verify with the key of its certificate');
  }
  const binding = bindingProblem(entity.tlogEntries, { certificate: encode(leaf) });
  if (binding !== undefined) return fail('tlog-invalid', binding);
  const identity = certificateIdentity(leaf);
  if (!identity.ok) return fail('untrusted-certificate', `the certificate cannot sign: ${identity.problem}`);
  return { ok: true, identity: identity.value };
}

function signatureVerifies(entity: SignedEntity, leaf: X509Certificate): boolean {
  try {
    return entity.signature.verifySignature(createPublicKey({ key: leaf.publicKey, format: 'der', type: 'spki' }));
  } catch {
    return false;
  }
}

/** Whether `cert` is one of the authority's own certificates (not one a signature brought). */
function ofAuthority(material: TrustMaterial, cert: X509Certificate): boolean {
  return material.certificateAuthorities.some((ca) => ca.certChain.some((c) => c.equals(cert)));
}

/** A private CA's chains with a signature's own intermediates added (never its self-signed certificates: a path
 * must still end at a configured root). */
function withIntermediates(
  material: TrustMaterial,
  extra: readonly Uint8Array[],
): TrustMaterial['certificateAuthorities'] {
  const certs: X509Certificate[] = [];
  for (const der of extra) {
    try {
      const c = X509Certificate.parse(Buffer.from(der));
      if (!c.subject.equals(c.issuer)) certs.push(c);
    } catch {
      // An unreadable chain certificate adds nothing; the path must then be found without it.
    }
  }
  if (certs.length === 0) return material.certificateAuthorities;
  return material.certificateAuthorities.map((ca) => ({ ...ca, certChain: [...certs, ...ca.certChain] }));
}

// One Verifier per trust material and tlog requirement: built once, reused for every signature.
const verifiers = new WeakMap<TrustMaterial, Map<boolean, Verifier>>();

function verifierFor(material: TrustMaterial, tlog: boolean): Verifier {
  let byTlog = verifiers.get(material);
  if (byTlog === undefined) {
    byTlog = new Map();
    verifiers.set(material, byTlog);
  }
  let v = byTlog.get(tlog);
  if (v === undefined) {
    v = new Verifier(material, { tlogThreshold: tlog ? 1 : 0, ctlogThreshold: 1, timestampThreshold: 1 });
    byTlog.set(tlog, v);
  }
  return v;
}

const REASON_OF_CODE: Readonly<Record<string, RejectReason>> = {
  CERTIFICATE_ERROR: 'untrusted-certificate',
  TLOG_ERROR: 'tlog-invalid',
  TLOG_INCLUSION_PROOF_ERROR: 'tlog-invalid',
  TLOG_INCLUSION_PROMISE_ERROR: 'tlog-invalid',
  TLOG_MISSING_INCLUSION_ERROR: 'tlog-invalid',
  TLOG_BODY_ERROR: 'tlog-invalid',
  TIMESTAMP_ERROR: 'timestamp-invalid',
  SIGNATURE_ERROR: 'bad-signature',
  PUBLIC_KEY_ERROR: 'unknown-key',
};

/** What the sigstore verifier said, with the hint a person needs to act on it. */
function sigstoreFailure(e: unknown, prefix: string): Failure {
  const code = typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : '';
  const reason = REASON_OF_CODE[code] ?? 'malformed';
  let message = describe(e);
  if (/expected \d+ timestamps, got 0/.test(message)) {
    message =
      'it has no trusted signing time: no Rekor entry with a verified integrated time and no RFC 3161 timestamp ' +
      '(a Fulcio certificate is valid for minutes, so when it signed must be proven, never taken from the clock)';
  } else if (/expected \d+ tlog entries, got 0/.test(message)) {
    message = 'the policy requires a transparency-log entry (tlog: required) and the signature has none';
  } else if (/expected \d+ SCTs, got 0/.test(message)) {
    message = 'the certificate carries no signed certificate timestamp from a CT log of the root';
  } else if (code === 'SIGNATURE_ERROR') {
    message = 'the signature does not verify with the key of its certificate: the payload or signature was altered';
  }
  return fail(reason, prefix + message);
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause instanceof Error && e.cause.message !== e.message ? ` (${e.cause.message})` : '';
  return e.message + cause;
}

function fail(reason: RejectReason, message: string): Failure {
  return { ok: false, reason, message };
}
