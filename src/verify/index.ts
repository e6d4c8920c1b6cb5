// The pure, synchronous verification core: (untrusted signature bytes, trusted keys, digest) -> SignatureCheck.
// No I/O, no clock, no randomness (a test enforces it). Every problem with signature data comes back as a
// SignatureCheck with verified:false and a reason; only programmer errors (e.g. an unknown format) throw.
import { verifyBundle } from './bundle.ts';
import { verifyLegacySignature } from './legacy.ts';
import type { SignatureCheck, UntrustedSignature, VerifyContext } from './types.ts';

export function verifySignature(sig: UntrustedSignature, ctx: VerifyContext): SignatureCheck {
  switch (sig.format) {
    case 'legacy':
      return verifyLegacySignature(sig, ctx);
    case 'bundle':
      return verifyBundle(sig, ctx);
    default:
      throw new TypeError(
        `verifySignature: unknown signature format ${JSON.stringify((sig as { format?: unknown }).format)}`,
      );
  }
}

export { parsePublicKey, MIN_RSA_BITS } from './keys.ts';
export { verifyLegacySignature, ANNOTATION } from './legacy.ts';
export { verifyBundle, parseBundle } from './bundle.ts';
export type { ParsedBundle, BundleMaterial, BundleContent, BundleParse } from './bundle.ts';
export { dssePae, parseDsseEnvelope, IN_TOTO_PAYLOAD_TYPE } from './dsse.ts';
export type { DsseEnvelope, DsseSignature } from './dsse.ts';
export { parseInTotoStatement, COSIGN_SIGN_PREDICATE, STATEMENT_TYPES } from './intoto.ts';
export type { InTotoStatement, InTotoSubject } from './intoto.ts';
export { parseSimpleSigning, COSIGN_SIGNATURE_TYPE } from './simple-signing.ts';
export type { SimpleSigningPayload } from './simple-signing.ts';
export { parseStrictJson } from '../oci/json-strict.ts';
export { decodeStdBase64, verifyMessage, keysThatVerify } from './signature-bytes.ts';
export type { SignatureScheme } from './signature-bytes.ts';
export type { Parsed } from './outcome.ts';
export type * from './types.ts';
