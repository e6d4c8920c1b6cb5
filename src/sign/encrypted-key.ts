// cosign's encrypted private key files (`cosign.key`), read and written without cosign.
//
// Format (cosign pkg/cosign/keys.go over go-securesystemslib encrypted/encrypted.go):
// - one PEM block labelled `ENCRYPTED SIGSTORE PRIVATE KEY` (cosign >= v2.0.1 writes it) or `ENCRYPTED COSIGN PRIVATE
//   KEY` (cosign v1 and v2.0.0; still read by every version);
// - its body is a JSON envelope, in Go's field order:
//   {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"<b64>"},
//    "cipher":{"name":"nacl/secretbox","nonce":"<b64 24 bytes>"},"ciphertext":"<b64>"}
// - secret key = scrypt(password, salt, N, r, p, 32 bytes); plaintext = NaCl secretbox open (XSalsa20-Poly1305, the
//   16-byte tag first) = the PKCS#8 DER private key (ECDSA P-256/384/521, RSA, Ed25519).
// cosign decrypts only the three scrypt parameter sets N=32768 (cosign < 2.2), 65536 (cosign >= 2.2 writes it) and
// 131072, each with r=8, p=1 (CheckParams), and so do we: that also bounds scrypt's memory (128 * N * r bytes,
// 128 MiB at most) whatever a key file says. The password is bytes: a string is taken as UTF-8, as Go's []byte(s).
//
// Every refusal is a SigwardError KEY_INVALID with a one-line reason (no file name: the caller prefixes it).
import { createPrivateKey, createPublicKey, randomBytes, scryptSync, type KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';
import { SigwardError } from '../errors.ts';
import { decodeStdBase64 } from '../verify/signature-bytes.ts';

/** What cosign >= v2.0.1 writes, and what we write. */
export const SIGSTORE_KEY_LABEL = 'ENCRYPTED SIGSTORE PRIVATE KEY';
/** cosign v1 / v2.0.0, still read. */
export const COSIGN_KEY_LABEL = 'ENCRYPTED COSIGN PRIVATE KEY';

/** scrypt parameters cosign >= v2.2 writes. */
export const COSIGN_SCRYPT = { N: 65536, r: 8, p: 1 } as const;
/** The N values cosign decrypts (always with r=8, p=1). */
export const ACCEPTED_SCRYPT_N: readonly number[] = [32768, 65536, 131072];

const SALT_BYTES = 32;
const NONCE_BYTES = nacl.secretbox.nonceLength; // 24
const TAG_BYTES = nacl.secretbox.overheadLength; // 16
const KEY_BYTES = nacl.secretbox.keyLength; // 32
/** A cosign key file is under 5 KB (RSA-4096); anything far larger is not one. */
export const MAX_KEY_PEM_CHARS = 64 * 1024;
const MIN_RSA_BITS = 2048;
const CURVES: Readonly<Record<string, string>> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
};

/** Internal: tests round-trip keys with a cheap scrypt N instead of paying ~150 ms per N=65536 derivation. */
export interface ScryptOverride {
  /** N to write (encrypt) or to accept besides cosign's three (decrypt), with r=8, p=1. A power of two, 2..131072. */
  readonly scryptN?: number;
}

/** Decrypt a cosign `cosign.key` with its password into a node private KeyObject. Throws KEY_INVALID with the
 * reason (wrong password, not a cosign key, garbled or truncated, unsupported parameters or key type). */
export function decryptCosignKey(pem: string, password: Uint8Array | string, opts: ScryptOverride = {}): KeyObject {
  return importPkcs8(openCosignKey(pem, password, opts));
}

/** Encrypt a private key the way cosign >= v2.2 does: `ENCRYPTED SIGSTORE PRIVATE KEY`, scrypt N=65536, r=8, p=1,
 * fresh 32-byte salt and 24-byte nonce. Refuses key types cosign cannot sign with. */
export function encryptCosignKey(
  privateKey: KeyObject,
  password: Uint8Array | string,
  opts: ScryptOverride = {},
): string {
  if (privateKey.type !== 'private') throw invalid('a private key is required');
  describeKey(privateKey);
  const N = opts.scryptN === undefined ? COSIGN_SCRYPT.N : checkOverride(opts.scryptN);
  const { r, p } = COSIGN_SCRYPT;
  const salt = randomBytes(SALT_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  const plaintext = privateKey.export({ type: 'pkcs8', format: 'der' });
  const box = nacl.secretbox(plaintext, nonce, deriveKey(password, salt, N, r, p));
  const envelope = JSON.stringify({
    kdf: { name: 'scrypt', params: { N, r, p }, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(box).toString('base64'),
  });
  const lines =
    Buffer.from(envelope)
      .toString('base64')
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${SIGSTORE_KEY_LABEL}-----\n${lines.join('\n')}\n-----END ${SIGSTORE_KEY_LABEL}-----\n`;
}

/** What a cosign key is, for messages: `ECDSA P-256`, `RSA 4096`, `Ed25519`. Throws KEY_INVALID for other types. */
export function describeKey(key: KeyObject): string {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? 'unknown';
    const name = CURVES[curve];
    if (name === undefined)
      throw invalid(`ECDSA curve ${curve} is not supported; cosign keys use P-256, P-384 or P-521`);
    return `ECDSA ${name}`;
  }
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS)
      throw invalid(`RSA key of ${bits} bits is too small; at least ${MIN_RSA_BITS} are required`);
    return `RSA ${bits}`;
  }
  if (type === 'ed25519') return 'Ed25519';
  throw invalid(
    `key type ${type ?? 'unknown'} is not supported; cosign keys are ECDSA P-256/P-384/P-521, RSA (>= ${MIN_RSA_BITS} bits) or Ed25519`,
  );
}

/** Everything about a cosign key file that can be checked without its password (PEM, label, envelope, scrypt and
 * cipher parameters), so a command can refuse a bad file before asking for a password. Throws KEY_INVALID. */
export function checkCosignKey(
  pem: string,
  opts: ScryptOverride = {},
): { readonly label: string; readonly scryptN: number } {
  const { label, env } = parseKey(pem, opts);
  return { label, scryptN: env.N };
}

/** Internal: the decrypted PKCS#8 bytes of a cosign key (every check of decryptCosignKey before the key import). */
export function openCosignKey(pem: string, password: Uint8Array | string, opts: ScryptOverride = {}): Uint8Array {
  const { env } = parseKey(pem, opts);
  const plaintext = nacl.secretbox.open(env.ciphertext, env.nonce, deriveKey(password, env.salt, env.N, env.r, env.p));
  if (plaintext === null) throw invalid('wrong password, or the key is corrupted');
  return plaintext;
}

function parseKey(pem: string, opts: ScryptOverride): { label: string; env: Envelope } {
  const { label, body } = pemBlock(pem);
  const env = parseEnvelope(body);
  const extraN = opts.scryptN === undefined ? undefined : checkOverride(opts.scryptN);
  const { N, r, p } = env;
  if (!((ACCEPTED_SCRYPT_N.includes(N) || N === extraN) && r === 8 && p === 1)) {
    throw invalid(
      `unsupported scrypt parameters N=${N}, r=${r}, p=${p}; cosign keys use N=${ACCEPTED_SCRYPT_N.join(', ')} with r=8, p=1`,
    );
  }
  return { label, env };
}

function deriveKey(password: Uint8Array | string, salt: Uint8Array, N: number, r: number, p: number): Uint8Array {
  // OpenSSL needs 128 * r * (N + 2) bytes for scrypt's table; node's default maxmem (32 MiB) is below N=65536's.
  const maxmem = 2 * 128 * r * (N + 2) + 128 * r * p;
  const pw = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  return new Uint8Array(scryptSync(pw, salt, KEY_BYTES, { N, r, p, maxmem }));
}

function checkOverride(n: number): number {
  if (!Number.isInteger(n) || n < 2 || n > 131072 || (n & (n - 1)) !== 0) {
    throw new RangeError(`scryptN must be a power of two from 2 to 131072, got ${n}`);
  }
  return n;
}

function pemBlock(pem: string): { label: string; body: Uint8Array } {
  if (pem.length > MAX_KEY_PEM_CHARS) {
    throw invalid(
      `${pem.length} characters is far too large for a cosign key (they are a few KB); is this the key file?`,
    );
  }
  const begin = /-----BEGIN ([^\r\n]*?)-----/.exec(pem);
  if (begin === null) {
    throw invalid(
      pem.includes('-----BEGIN')
        ? 'the PEM BEGIN line is malformed'
        : `no PEM block found; expected "-----BEGIN ${SIGSTORE_KEY_LABEL}-----" (a cosign.key)`,
    );
  }
  const label = begin[1] ?? '';
  checkLabel(label);
  const start = begin.index + begin[0].length;
  const endLine = `-----END ${label}-----`;
  const end = pem.indexOf(endLine, start);
  if (end < 0) {
    const other = /-----END ([^\r\n]*?)-----/.exec(pem.slice(start));
    throw invalid(
      other === null
        ? `the PEM block is truncated: no "${endLine}" line`
        : `the PEM block is malformed: BEGIN ${label} but END ${other[1] ?? ''}`,
    );
  }
  const body = pem.slice(start, end);
  if (/^[ \t]*[A-Za-z-]+:/m.test(body)) throw invalid('PEM headers (such as Proc-Type) are not part of a cosign key');
  // Go's pem.Decode drops spaces and tabs, and base64.StdEncoding drops CR and LF.
  const der = decodeStdBase64(body.replace(/[ \t]/g, ''));
  if (!der.ok) throw invalid(`the key is garbled: its PEM body ${der.problem}`);
  if (der.value.length === 0) throw invalid('the PEM body is empty');
  return { label, body: der.value };
}

function checkLabel(label: string): void {
  if (label === SIGSTORE_KEY_LABEL || label === COSIGN_KEY_LABEL) return;
  if (label === 'PUBLIC KEY')
    throw invalid('this is a PUBLIC KEY (a cosign.pub); the private key (cosign.key) is needed');
  if (label === 'ENCRYPTED PRIVATE KEY') {
    throw invalid(
      'this is an OpenSSL-encrypted PKCS#8 key, not a cosign key; decrypt it (`openssl pkcs8 -in KEY -out plain.pem`) ' +
        'and import it with `cosign import-key-pair --key plain.pem`, which writes an encrypted import-cosign.key',
    );
  }
  if (label === 'EC PRIVATE KEY' || label === 'RSA PRIVATE KEY' || label === 'PRIVATE KEY') {
    throw invalid(
      `this is an unencrypted ${label}; cosign expects an encrypted key ("${SIGSTORE_KEY_LABEL}"): import it with ` +
        '`cosign import-key-pair --key KEY`, which writes an encrypted import-cosign.key',
    );
  }
  throw invalid(`PEM type "${label}" is not a cosign private key; expected "${SIGSTORE_KEY_LABEL}"`);
}

interface Envelope {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Uint8Array;
  readonly nonce: Uint8Array;
  readonly ciphertext: Uint8Array;
}

function parseEnvelope(body: Uint8Array): Envelope {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    throw invalid('the key is garbled or truncated: its PEM body is not the JSON envelope cosign writes');
  }
  const top = object(doc, 'the key envelope');
  const kdf = object(top.kdf, 'kdf');
  if (kdf.name !== 'scrypt') throw invalid(`unsupported key derivation ${show(kdf.name)}; cosign keys use scrypt`);
  const params = object(kdf.params, 'kdf.params');
  const N = int(params.N, 'kdf.params.N');
  const r = int(params.r, 'kdf.params.r');
  const p = int(params.p, 'kdf.params.p');
  const salt = bytes(kdf.salt, 'kdf.salt');
  const cipher = object(top.cipher, 'cipher');
  if (cipher.name !== 'nacl/secretbox') {
    throw invalid(`unsupported cipher ${show(cipher.name)}; cosign keys use nacl/secretbox`);
  }
  const nonce = bytes(cipher.nonce, 'cipher.nonce');
  if (nonce.length !== NONCE_BYTES)
    throw invalid(`cipher.nonce is ${nonce.length} bytes; secretbox needs ${NONCE_BYTES}`);
  const ciphertext = bytes(top.ciphertext, 'ciphertext');
  if (ciphertext.length <= TAG_BYTES) {
    throw invalid(`the ciphertext is ${ciphertext.length} bytes, no longer than its ${TAG_BYTES}-byte tag: truncated`);
  }
  return { N, r, p, salt, nonce, ciphertext };
}

function object(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw invalid(`${what} ${v === undefined ? 'is missing' : 'is not a JSON object'} in the key envelope`);
  }
  return v as Record<string, unknown>;
}

function int(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw invalid(`${what} is not an integer in the key envelope`);
  return v;
}

function bytes(v: unknown, what: string): Uint8Array {
  if (typeof v !== 'string')
    throw invalid(`${what} is ${v === undefined ? 'missing' : 'not a string'} in the key envelope`);
  const d = decodeStdBase64(v);
  if (!d.ok) throw invalid(`${what} ${d.problem}`);
  return d.value;
}

function show(v: unknown): string {
  return v === undefined ? '(none)' : JSON.stringify(v).slice(0, 60);
}

function importPkcs8(der: Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  } catch {
    // node's `sec1` and `pkcs1` both read OpenSSL's "traditional" forms of any type: name what was found.
    let traditional: string | undefined;
    try {
      traditional = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs1' }).asymmetricKeyType;
    } catch {
      traditional = undefined;
    }
    if (traditional === 'ec' || traditional === 'rsa') {
      const what = traditional === 'ec' ? 'a SEC1 EC PRIVATE KEY' : 'a PKCS#1 RSA PRIVATE KEY';
      throw invalid(
        `the key decrypts, but to ${what}, not PKCS#8; cosign cannot load it either: ` +
          're-import the unencrypted key with `cosign import-key-pair --key KEY`',
      );
    }
    throw invalid('the key decrypts, but not to a PKCS#8 private key this Node can read');
  }
  describeKey(key);
  // Fail here rather than at the first signature if the key is inconsistent.
  createPublicKey(key);
  return key;
}

function invalid(what: string): SigwardError {
  return new SigwardError('KEY_INVALID', what);
}
