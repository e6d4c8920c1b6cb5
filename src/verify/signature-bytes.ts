// Signature bytes: decoding cosign's base64 and checking one signature over exact message bytes with one key.
//
// Base64: cosign decodes with Go's base64.StdEncoding, which requires the `+/` alphabet
// and `=` padding to a multiple of 4, silently drops every `\r` and `\n`, and refuses anything else. We accept
// exactly that: CR/LF anywhere are removed (real example: cimage-cosign-pki, 76-column wrapped), then the text
// must be canonical padded base64. Spaces, tabs, `-_` (URL alphabet), missing padding and data after padding are
// refused, unlike node's Buffer.from(s, 'base64') which skips any invalid character. Like Go's non-strict decoder,
// non-zero bits in the final padded group are tolerated (they do not change the decoded bytes).
//
// Schemes (sigstore/sigstore pkg/signature: ecdsa.go, rsapkcs1v15.go, ed25519.go):
// - ECDSA: ASN.1 DER SEQUENCE{r,s}; when that does not verify and the length is exactly 2x the field size, the
//   raw IEEE P1363 r||s form is tried, as sigstore's verifier does. Low-S is NOT required: Go never normalises S.
//   Hash: SHA-256 for every curve (cosign's `verify --key` default, and every cosign <= v2.5 signer). P-384 and
//   P-521 also accept their natural hash (SHA-384 / SHA-512): cosign >= v2.6 signs with the key's default
//   algorithm (sigstore algorithm_registry.go), and both readings are unforgeable without the private key, so
//   accepting either only avoids rejecting genuine signatures.
// - RSA: PKCS#1 v1.5 with SHA-256 only (cosign's default for RSA at every version; PSS needs explicit opt-in).
// - Ed25519: pure Ed25519 (what `cosign verify --key` uses; Ed25519ph is not accepted).
import { constants, verify } from 'node:crypto';
import { ok, problem, type Parsed } from './outcome.ts';
import type { KeyAlgorithm, TrustedKey } from './types.ts';

const STD_B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decode Go-StdEncoding base64 (CR/LF ignored). */
export function decodeStdBase64(text: string): Parsed<Buffer> {
  const compact = text.includes('\n') || text.includes('\r') ? text.replace(/[\r\n]/g, '') : text;
  // Fast path (certificates and Rekor bundles are kilobytes): canonical base64 round-trips through node's decoder.
  // Anything else (padding, alphabet, or the non-zero trailing bits Go's StdEncoding also accepts) takes the regex.
  const bytes = Buffer.from(compact, 'base64');
  if (bytes.toString('base64') === compact) return ok(bytes);
  if (!STD_B64_RE.test(compact)) {
    const bad = compact.match(/[^A-Za-z0-9+/=]/)?.[0];
    return problem(
      bad !== undefined
        ? `is not standard base64: character ${JSON.stringify(bad)} is not allowed`
        : 'is not standard base64: length or padding is wrong (expected padded groups of 4 characters)',
    );
  }
  return ok(bytes);
}

/** Which scheme verified, for logs and tests: e.g. `ecdsa-sha256-der`, `rsa-pkcs1v15-sha256`, `ed25519`. */
export type SignatureScheme = string;

type Hash = 'sha256' | 'sha384' | 'sha512';

const ECDSA_HASHES: Readonly<Record<KeyAlgorithm, readonly Hash[]>> = {
  'ecdsa-p256': ['sha256'],
  'ecdsa-p384': ['sha256', 'sha384'],
  'ecdsa-p521': ['sha256', 'sha512'],
  rsa: [],
  ed25519: [],
};

/** Bytes of one coordinate, for recognising raw r||s signatures. */
const FIELD_BYTES: Readonly<Record<KeyAlgorithm, number>> = {
  'ecdsa-p256': 32,
  'ecdsa-p384': 48,
  'ecdsa-p521': 66,
  rsa: 0,
  ed25519: 0,
};

/** Check `signature` over exactly `message` with `key`. Returns the scheme that verified, or undefined. Never
 * throws for bad signature bytes. */
export function verifyMessage(
  key: TrustedKey,
  message: Uint8Array,
  signature: Uint8Array,
): SignatureScheme | undefined {
  if (signature.length === 0) return undefined;
  switch (key.algorithm) {
    case 'ed25519':
      return attempt(() => verify(null, message, key.key, signature)) ? 'ed25519' : undefined;
    case 'rsa':
      return attempt(() => verify('sha256', message, { key: key.key, padding: constants.RSA_PKCS1_PADDING }, signature))
        ? 'rsa-pkcs1v15-sha256'
        : undefined;
    default: {
      const raw = signature.length === 2 * FIELD_BYTES[key.algorithm];
      for (const hash of ECDSA_HASHES[key.algorithm]) {
        if (attempt(() => verify(hash, message, { key: key.key, dsaEncoding: 'der' }, signature)))
          return `ecdsa-${hash}-der`;
        if (raw && attempt(() => verify(hash, message, { key: key.key, dsaEncoding: 'ieee-p1363' }, signature))) {
          return `ecdsa-${hash}-p1363`;
        }
      }
      return undefined;
    }
  }
}

/** Names of every key in `keys` that verifies the signature (one key may be trusted under several names). */
export function keysThatVerify(keys: readonly TrustedKey[], message: Uint8Array, signature: Uint8Array): string[] {
  return keys.filter((k) => verifyMessage(k, message, signature) !== undefined).map((k) => k.name);
}

// OpenSSL reports some malformed inputs by throwing rather than returning false; either way it is "no".
function attempt(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}
