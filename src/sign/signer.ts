// Signing bytes with a node private KeyObject, the way cosign's key signers do (sigstore/sigstore pkg/signature):
// ECDSA -> ASN.1 DER over SHA-256 (cosign <= v2.5 default for every curve), RSA -> PKCS#1 v1.5 SHA-256,
// Ed25519 -> pure Ed25519. Options exist to produce the other encodings the verifier must accept.
import { constants, createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';

export interface SignOptions {
  /** ECDSA hash (default sha256). */
  readonly hash?: 'sha256' | 'sha384' | 'sha512';
  /** ECDSA encoding (default der; `ieee-p1363` = raw r||s). */
  readonly ecdsaEncoding?: 'der' | 'ieee-p1363';
}

export function signBytes(privateKey: KeyObject, message: Uint8Array, opts: SignOptions = {}): Uint8Array {
  if (privateKey.type !== 'private') throw new TypeError('signBytes: a private key is required');
  switch (privateKey.asymmetricKeyType) {
    case 'ec':
      return new Uint8Array(
        sign(opts.hash ?? 'sha256', message, { key: privateKey, dsaEncoding: opts.ecdsaEncoding ?? 'der' }),
      );
    case 'rsa':
      return new Uint8Array(sign('sha256', message, { key: privateKey, padding: constants.RSA_PKCS1_PADDING }));
    case 'ed25519':
      return new Uint8Array(sign(null, message, privateKey));
    default:
      throw new TypeError(`signBytes: key type ${privateKey.asymmetricKeyType ?? 'unknown'} is not a cosign key type`);
  }
}

/** Standard base64, as cosign writes the signature annotation and bundle byte fields. */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

/** PEM `PUBLIC KEY` (SPKI) of a private or public key: the `cosign.pub` format. */
export function publicKeyPem(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'pem' }).toString();
}

/** cosign's bundle `publicKey.hint`: base64(SHA-256(SPKI DER)) (cosign internal/key/svkeypair.go). */
export function keyHint(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256')
    .update(pub.export({ type: 'spki', format: 'der' }))
    .digest('base64');
}
