// Public keys named in the `trust` section. Parsed ONCE at config load into node KeyObjects, so verifying a
// signature never touches PEM again. Format: PEM `PUBLIC KEY` = DER SubjectPublicKeyInfo, what `cosign
// generate-key-pair` / `cosign public-key` write (sigstore/sigstore pkg/cryptoutils/publickey.go).
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { SigwardError } from '../errors.ts';
import { decodeStdBase64 } from './signature-bytes.ts';
import type { KeyAlgorithm, TrustedKey } from './types.ts';

/** Smallest RSA modulus accepted: cosign's own minimum (pkg/cosign/keys.go, SupportedKeyDetails: 2048/3072/4096). */
export const MIN_RSA_BITS = 2048;

const CURVES: Readonly<Record<string, KeyAlgorithm>> = {
  prime256v1: 'ecdsa-p256',
  secp384r1: 'ecdsa-p384',
  secp521r1: 'ecdsa-p521',
};

const PEM_RE = /^-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)\r?\n?-----END ([A-Z0-9 ]+)-----$/;

/** Parse one PEM `PUBLIC KEY` (ECDSA P-256/P-384/P-521, RSA >= 2048 bits, Ed25519). Throws KEY_INVALID saying what
 * is wrong and what to give instead. */
export function parsePublicKey(name: string, pem: string): TrustedKey {
  const der = pemBody(name, pem);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
  } catch (e) {
    throw invalid(name, 'the PUBLIC KEY block is not a valid DER SubjectPublicKeyInfo', e);
  }
  if (derTotalLength(der) !== der.length) {
    throw invalid(name, 'the PUBLIC KEY block has bytes after the DER SubjectPublicKeyInfo; re-export the key');
  }
  const algorithm = algorithmOf(name, key);
  // Hash the canonical re-encoding, like Go's x509.MarshalPKIXPublicKey does for cosign's key hint.
  const spkiDer = new Uint8Array(key.export({ type: 'spki', format: 'der' }));
  const keyId = createHash('sha256').update(spkiDer).digest('hex');
  return { name, algorithm, key, spkiDer, keyId };
}

function pemBody(name: string, pem: string): Uint8Array {
  const text = pem.trim();
  const blocks = text.match(/-----BEGIN /g)?.length ?? 0;
  if (blocks === 0)
    throw invalid(name, 'no PEM block found; expected "-----BEGIN PUBLIC KEY-----" (the cosign.pub file)');
  if (blocks > 1) throw invalid(name, `found ${blocks} PEM blocks; give exactly one PUBLIC KEY per trusted key`);
  const m = PEM_RE.exec(text);
  if (m === null || m[1] !== m[3]) throw invalid(name, 'the PEM block is malformed (BEGIN/END lines do not match)');
  const label = m[1] ?? '';
  if (label === 'CERTIFICATE') {
    throw invalid(
      name,
      'this is a CERTIFICATE, not a PUBLIC KEY; to trust whoever a CA certifies, put the CA under trust.cas and name ' +
        'the signer in a policy `identities:` entry; to trust this one key, give the public key itself ' +
        '(e.g. `openssl x509 -pubkey -noout -in cert.pem`)',
    );
  }
  if (label.includes('PRIVATE KEY')) {
    throw invalid(name, `this is a ${label}; trust needs only the PUBLIC KEY (\`cosign public-key --key cosign.key\`)`);
  }
  if (label !== 'PUBLIC KEY') {
    throw invalid(name, `PEM type "${label}" is not supported; expected "PUBLIC KEY" (SubjectPublicKeyInfo)`);
  }
  const body = m[2] ?? '';
  if (/^[A-Za-z-]+:/m.test(body)) throw invalid(name, 'PEM headers (e.g. Proc-Type) are not allowed in a public key');
  const der = decodeStdBase64(body.replace(/[ \t]/g, ''));
  if (!der.ok) throw invalid(name, `the PEM body ${der.problem}`);
  if (der.value.length === 0) throw invalid(name, 'the PEM body is empty');
  return der.value;
}

function algorithmOf(name: string, key: KeyObject): KeyAlgorithm {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? 'unknown';
    const alg = CURVES[curve];
    if (alg === undefined) {
      throw invalid(name, `ECDSA curve ${curve} is not supported; cosign keys use P-256, P-384 or P-521`);
    }
    return alg;
  }
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS)
      throw invalid(name, `RSA key of ${bits} bits is too small; at least ${MIN_RSA_BITS} bits are required`);
    return 'rsa';
  }
  if (type === 'ed25519') return 'ed25519';
  if (type === 'rsa-pss') {
    throw invalid(
      name,
      'RSA-PSS-restricted keys (id-RSASSA-PSS) are not supported; cosign verifies RSA PKCS#1 v1.5 with rsaEncryption keys',
    );
  }
  throw invalid(
    name,
    `key type ${type ?? 'unknown'} is not supported; use ECDSA P-256/P-384/P-521, RSA (>= ${MIN_RSA_BITS} bits) or Ed25519`,
  );
}

/** Length the outer DER SEQUENCE header declares, header included (-1 when it cannot be read). node ignores bytes
 * after the SPKI, so this is how trailing data is caught. */
function derTotalLength(der: Uint8Array): number {
  if (der[0] !== 0x30 || der.length < 2) return -1;
  const first = der[1] ?? 0;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || der.length < 2 + n) return -1;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + (der[2 + i] ?? 0);
  return 2 + n + len;
}

function invalid(name: string, what: string, cause?: unknown): SigwardError {
  return new SigwardError('KEY_INVALID', `trusted key "${name}": ${what}`, cause === undefined ? {} : { cause });
}
