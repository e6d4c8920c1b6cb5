// Digests as the OCI image spec defines them (descriptor.md#digests). sigward accepts sha256 and sha512, the two
// registered algorithms; anything else is DIGEST_INVALID, never forwarded.
import { createHash } from 'node:crypto';
import { SigwardError } from '../errors.ts';
import { clip } from '../util/clip.ts';

export type DigestAlgorithm = 'sha256' | 'sha512';

/** A digest string already checked against the grammar: `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`. */
export type Digest = string & { readonly __digest: unique symbol };

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
/** The general grammar, to tell "malformed" from "unsupported algorithm" in error messages. */
const GENERAL_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

export function parseDigest(s: string): Digest {
  if (isDigest(s)) return s;
  if (GENERAL_RE.test(s)) {
    throw new SigwardError(
      'DIGEST_INVALID',
      `unsupported digest '${clip(s)}': sigward accepts sha256:<64 lowercase hex> or sha512:<128 lowercase hex>`,
    );
  }
  throw new SigwardError('DIGEST_INVALID', `invalid digest '${clip(s)}': expected sha256:<64 lowercase hex>`);
}

export function digestAlgorithm(d: Digest): DigestAlgorithm {
  return d.startsWith('sha512:') ? 'sha512' : 'sha256';
}

export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}

export function digestOf(bytes: Uint8Array, alg: DigestAlgorithm = 'sha256'): Digest {
  return `${alg}:${createHash(alg).update(bytes).digest('hex')}` as Digest;
}

/** True when `bytes` hash to `expected` (with the algorithm `expected` names). */
export function matchesDigest(bytes: Uint8Array, expected: Digest): boolean {
  return digestOf(bytes, digestAlgorithm(expected)) === expected;
}
