// Certificates of the trust material are checked once, not once per signature. @sigstore/verify rebuilds each chain
// from scratch for every signature: it re-encodes every certificate to DER to compare two of them, re-reads the
// validity dates, key identifiers and constraints of every certificate of the path, and re-verifies the
// intermediate's signature by the root and the root's own signature (P-384 for the public-good root: ~0.5 ms each on
// these machines). All of that is constant for certificates of a trust root, which are parsed once at config load and
// never changed, so for those (and only those) this module remembers their DER, their public key, the fields the
// chain builder reads, and the outcome of verifying one by another. What depends on the signature is still done on
// every call: the leaf (the certificate that comes with a signature) is read and verified by its issuer's key every
// time, and every certificate of the path is checked against the signing time of that signature. The memory is
// bounded by the trust material itself (weak maps keyed by its certificate objects).
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { X509Certificate } from '@sigstore/core';
import { copyTree } from './der-cache.ts';

const trusted = new WeakSet<X509Certificate>();
const derOf = new WeakMap<X509Certificate, Buffer>();
const verdicts = new WeakMap<X509Certificate, Map<X509Certificate | null, boolean>>();

/** Mark certificates of trust material (parsed once, never mutated) so their DER and mutual checks are remembered. */
export function rememberTrusted(certs: Iterable<X509Certificate>): void {
  for (const c of certs) {
    trusted.add(c);
    derOf.set(c, c.root.toDER());
    memo.set(c, new Map());
  }
}

/** Remember the DER of a certificate that came with a signature, for the one verification it is used in (it is
 * never changed during it: the verifier clones a certificate before it edits one). `der`: the exact bytes it was
 * parsed from, when the caller has them (the parser takes minimal DER only and refuses trailing bytes, so a parsed
 * certificate encodes to the bytes it came from). */
export function rememberEncoding(cert: X509Certificate, der?: Uint8Array): void {
  if (!derOf.has(cert)) derOf.set(cert, der === undefined ? cert.root.toDER() : Buffer.from(der));
}

const proto = X509Certificate.prototype;

// What the chain builder reads from every certificate of a path on every check, each a fresh parse of the same bytes:
// validity dates, key identifiers, basic constraints, key usage, the public key. For a trusted certificate each is
// read once and the same (never modified) object is answered after that.
const MEMOIZED = [
  'notBefore',
  'notAfter',
  'extSubjectKeyID',
  'extAuthorityKeyID',
  'extBasicConstraints',
  'extKeyUsage',
  'isCA',
  'publicKey',
] as const;
const memo = new WeakMap<X509Certificate, Map<string, unknown>>();
for (const name of MEMOIZED) {
  const d = Object.getOwnPropertyDescriptor(proto, name);
  // The library's getter, always called with a certificate as `this`.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const get = d?.get;
  if (d === undefined || get === undefined) throw new Error(`@sigstore/core X509Certificate has no ${name} getter`);
  Object.defineProperty(proto, name, {
    ...d,
    get(this: X509Certificate): unknown {
      const known = memo.get(this);
      if (known === undefined) return get.call(this);
      if (!known.has(name)) known.set(name, get.call(this));
      return known.get(name);
    },
  });
}
/** The certificate's DER (remembered when it was registered). */
export const encode = (c: X509Certificate): Buffer => derOf.get(c) ?? c.root.toDER();
// The library's own check, called with the certificate as `this` (never detached from one).
// eslint-disable-next-line @typescript-eslint/unbound-method
const originalVerify = proto.verify;

proto.equals = function equals(this: X509Certificate, other: X509Certificate): boolean {
  return encode(this).equals(encode(other));
};

// The SCT check clones the leaf to remove its SCT extension: a copy of the parsed tree, not a second parse.
proto.clone = function clone(this: X509Certificate): X509Certificate {
  return new X509Certificate(copyTree(this.root));
};

const keys = new WeakMap<X509Certificate, KeyObject>();

/** A trusted certificate's public key, built once. */
function keyOf(c: X509Certificate): KeyObject {
  let k = keys.get(c);
  if (k === undefined) {
    k = createPublicKey({ key: c.publicKey, format: 'der', type: 'spki' });
    keys.set(c, k);
  }
  return k;
}

proto.verify = function verify(this: X509Certificate, issuer?: X509Certificate): boolean {
  if (issuer !== undefined && trusted.has(issuer) && !trusted.has(this)) {
    // A signature's certificate checked by a trusted one: what the library does, with the issuer's key built once.
    try {
      return cryptoVerify(this.signatureAlgorithm, this.tbsCertificate.toDER(), keyOf(issuer), this.signatureValue);
    } catch {
      return false;
    }
  }
  if (!trusted.has(this) || (issuer !== undefined && !trusted.has(issuer))) return originalVerify.call(this, issuer);
  let byIssuer = verdicts.get(this);
  if (byIssuer === undefined) {
    byIssuer = new Map();
    verdicts.set(this, byIssuer);
  }
  const key = issuer ?? null;
  let ok = byIssuer.get(key);
  if (ok === undefined) {
    ok = originalVerify.call(this, issuer);
    byIssuer.set(key, ok);
  }
  return ok;
};
