// Contracts of the pure verification core. Everything here is data; nothing does I/O or reads the clock.
// Unverified inputs are named `Untrusted*` until a check promotes them (containers/image convention).
import type { KeyObject } from 'node:crypto';
import type { Digest } from '../oci/digest.ts';
import type { TrustAuthority } from './authority.ts';

export type { TrustAuthority } from './authority.ts';

export type KeyAlgorithm = 'ecdsa-p256' | 'ecdsa-p384' | 'ecdsa-p521' | 'rsa' | 'ed25519';

/** A public key named in the `trust` section, parsed once at config load. */
export interface TrustedKey {
  /** The name it has under `trust.keys` in the YAML. */
  readonly name: string;
  readonly algorithm: KeyAlgorithm;
  readonly key: KeyObject;
  /** DER SubjectPublicKeyInfo. */
  readonly spkiDer: Uint8Array;
  /** Lowercase hex SHA-256 of the SPKI DER (what cosign's `publicKey.hint` is the base64 of). */
  readonly keyId: string;
}

/** One layer of a legacy `sha256-<hex>.sig` image, as fetched. The fetcher has already checked that
 * sha256(payload) equals layerDigest; nothing else about it is trusted. */
export interface UntrustedLegacySignature {
  readonly format: 'legacy';
  /** Where it was found, for messages: e.g. `127.0.0.1:5001/app:sha256-….sig, layer 1 of 3`. */
  readonly source: string;
  readonly layerDigest: string;
  readonly layerMediaType: string;
  readonly annotations: Readonly<Record<string, string>>;
  /** The exact layer bytes: the signed message. */
  readonly payload: Uint8Array;
}

/** A Sigstore bundle found as a referrer (or through the referrers tag schema). Bytes are exact and size-capped. */
export interface UntrustedBundle {
  readonly format: 'bundle';
  readonly source: string;
  /** Digest of the referrer manifest that carried the bundle. */
  readonly manifestDigest: string;
  readonly bundle: Uint8Array;
}

export type UntrustedSignature = UntrustedLegacySignature | UntrustedBundle;

/** Why one signature did not count. Stable identifiers (used in logs and tests); `message` has the human text. */
export type RejectReason =
  | 'malformed' // not decodable: bad base64, bad JSON, missing fields, wrong media type
  | 'unknown-key' // no allowed key verifies it (wrong key)
  | 'bad-signature' // the signature does not verify over the payload with the key it names
  | 'payload-invalid' // strict payload parsing failed (duplicate keys, wrong types, wrong critical.type)
  | 'digest-mismatch' // signed for another digest (replayed / copied signature)
  | 'wrong-predicate' // a bundle whose statement is not an image signature
  | 'missing-annotation' // a required `-a key=value` annotation is absent or different
  | 'wrong-reference' // docker-reference does not name the repository when the policy requires it
  | 'over-limit' // not read: past a per-lookup limit (limits.signaturesPerLookup and friends); never "verified"
  | 'untrusted-certificate' // the certificate does not chain to a trusted CA at a trusted time, lacks an SCT, or is no signing certificate
  | 'tlog-invalid' // a transparency-log entry is missing, not signed by a trusted log, or about other content
  | 'timestamp-invalid' // no trusted time: an RFC 3161 timestamp that does not verify, or none where one is needed
  | 'wrong-identity' // the certificate is trusted but names a signer (subject, issuer, claims) the policy does not accept
  | 'unsupported'; // needs checks this build does not do (certificates, transparency log): never "verified"

/** The outcome of checking ONE signature against a digest and a set of allowed keys. */
export interface SignatureCheck {
  readonly format: 'legacy' | 'bundle';
  readonly source: string;
  /** True only when the cryptographic signature verified with an allowed key AND the signed digest is the one
   * being served. Policy rules (annotations, reference) are applied after this, by policy/. */
  readonly verified: boolean;
  /** Names of the trusted keys that verified the signature (empty unless verified). */
  readonly signers: readonly string[];
  readonly reason?: RejectReason;
  readonly message?: string;
  /** Signed annotations: simple-signing `optional`, or the in-toto subject's `annotations`. Only set when verified. */
  readonly annotations?: Readonly<Record<string, unknown>>;
  /** For a certificate signature: who signed as one unit (issuer and subject names of the certificate), so that a
   * threshold counts one certificate once however many policy identities accept it. Absent for key signatures, whose
   * key ids are the units. */
  readonly certificateSigner?: string;
  /** Signed `critical.identity.docker-reference` (legacy only), when verified. */
  readonly dockerReference?: string;
  /** Material the signature carries that this check did NOT evaluate (certificates, Rekor bundles, tlog entries,
   * RFC 3161 timestamps). Its presence never makes a check pass; a policy that requires such evidence must treat
   * a check listing it as unproven until a verifier for it exists. Absent when nothing was left unchecked. */
  readonly notEvaluated?: readonly UnevaluatedMaterial[];
}

/** Kinds of evidence a signature may carry beyond the key signature itself; see `SignatureCheck.notEvaluated`. */
export type UnevaluatedMaterial =
  | 'certificate' // legacy `dev.sigstore.cosign/certificate` (+ chain) annotation
  | 'rekor-bundle' // legacy `dev.sigstore.cosign/bundle` annotation (SET + body)
  | 'rfc3161-timestamp' // legacy `dev.sigstore.cosign/rfc3161timestamp` or bundle `timestampVerificationData`
  | 'tlog-entries'; // bundle `verificationMaterial.tlogEntries`

/** An exact string, or a JavaScript regular expression limited to what Go's RE2 also means the same way,
 * unanchored unless the pattern anchors itself (as cosign's `--certificate-identity-regexp`). */
export type StringMatch = { readonly exact: string } | { readonly regexp: string; readonly re: RegExp };

/** The GitHub workflow claims cosign's `--certificate-github-workflow-*` flags check. */
export type GithubClaim = 'trigger' | 'sha' | 'name' | 'repository' | 'ref';

/** A signer identity a policy accepts: a certificate from `authority` whose identity matches. */
export interface TrustedIdentity {
  /** Counted by threshold/required like a key name. */
  readonly name: string;
  readonly authority: TrustAuthority;
  /** The OIDC issuer (Fulcio certificates); absent for private-CA identities, which have none. */
  readonly issuer?: StringMatch;
  readonly subject: StringMatch;
  readonly github: Readonly<Partial<Record<GithubClaim, string>>>;
}

export interface VerifyContext {
  /** The manifest digest being served. */
  readonly digest: Digest;
  /** Keys the applicable policy allows. */
  readonly keys: readonly TrustedKey[];
  /** Certificate identities the applicable policy allows (keyless or private-CA signatures). */
  readonly identities?: readonly TrustedIdentity[];
  /** Certificate signatures from a trust root must carry a verified transparency-log entry (default true). Without
   * one, a certificate needs an RFC 3161 timestamp for its signing time. */
  readonly identityTlog?: boolean;
  /** When set, key signatures count only with a transparency-log entry verified against this root's logs. */
  readonly keyTlog?: TrustAuthority;
  /** When private-CA certificates must be valid (they have no trusted timestamp): the caller's clock. Fulcio
   * certificates are never checked against it, only against the log's or a timestamp authority's time. */
  readonly now?: Date;
}
