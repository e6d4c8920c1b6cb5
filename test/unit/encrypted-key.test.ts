// cosign's encrypted private keys (src/sign/encrypted-key.ts): the real keys of cosign, policy-controller and
// sigstore-rs decrypt with their passwords (test/fixtures/encrypted-keys/PROVENANCE.md), every bad input is refused
// with a one-line reason, and a key we write decrypts again and signs what its public key verifies.
// scrypt at cosign's N=65536 costs ~150 ms per derivation, so most round trips use a small N through the explicit
// internal `scryptN` option; the fixtures with N=65536 and one round trip take the real path.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createPublicKey, generateKeyPairSync, randomBytes, scryptSync, type KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';
import {
  COSIGN_KEY_LABEL,
  SIGSTORE_KEY_LABEL,
  checkCosignKey,
  decryptCosignKey,
  encryptCosignKey,
  openCosignKey,
} from '../../src/sign/encrypted-key.ts';
import { publicKeyPem, signBytes } from '../../src/sign/signer.ts';
import { parsePublicKey } from '../../src/verify/keys.ts';
import { verifyMessage } from '../../src/verify/signature-bytes.ts';
import { isSigwardError } from '../../src/errors.ts';

const FIXTURES = new URL('../fixtures/encrypted-keys/', import.meta.url);
const fixture = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');
const LOW_N = { scryptN: 1024 };

/** The reason a call is refused with: a KEY_INVALID SigwardError on one line. */
function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(isSigwardError(e, 'KEY_INVALID'), `expected KEY_INVALID, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `one line: ${JSON.stringify(e.message)}`);
    return e.message;
  }
  assert.fail('expected a refusal, but it was accepted');
}

/** The key signs, and its public key PEM (parsed as a trusted key is) verifies the signature and nothing else. */
function assertSignsAndVerifies(privateKey: KeyObject, pubPem = publicKeyPem(privateKey)): void {
  const trusted = parsePublicKey('t', pubPem);
  const message = new TextEncoder().encode('{"critical":{"image":{"docker-manifest-digest":"sha256:00"}}}');
  const sig = signBytes(privateKey, message);
  assert.ok(verifyMessage(trusted, message, sig) !== undefined, 'the signature verifies with the public key');
  assert.equal(verifyMessage(trusted, new TextEncoder().encode('other'), sig), undefined);
}

function envelopeOf(pem: string): Record<string, unknown> {
  const body = pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, '');
  return JSON.parse(Buffer.from(body, 'base64').toString('utf8')) as Record<string, unknown>;
}

function pemOf(label: string, body: Uint8Array | string): string {
  const b64 = Buffer.from(body).toString('base64');
  return `-----BEGIN ${label}-----\n${(b64.match(/.{1,64}/g) ?? []).join('\n')}\n-----END ${label}-----\n`;
}

/** An envelope around arbitrary plaintext (what encryptCosignKey refuses to write), at a small N. */
function sealed(plaintext: Uint8Array, password: string, N = 1024): string {
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const key = scryptSync(password, salt, 32, { N, r: 8, p: 1 });
  const box = nacl.secretbox(plaintext, nonce, key);
  return pemOf(
    SIGSTORE_KEY_LABEL,
    JSON.stringify({
      kdf: { name: 'scrypt', params: { N, r: 8, p: 1 }, salt: salt.toString('base64') },
      cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
      ciphertext: Buffer.from(box).toString('base64'),
    }),
  );
}

describe('the real keys (cosign, policy-controller, sigstore-rs)', () => {
  const cases: { file: string; password: string; label: string; N: number; kind: string }[] = [
    {
      file: 'cosign-keys_test-rsa.cosign.key',
      password: 'hello',
      label: COSIGN_KEY_LABEL,
      N: 32768,
      kind: 'ec prime256v1',
    },
    {
      file: 'cosign-keys_test-sigstore.key',
      password: 'hello',
      label: SIGSTORE_KEY_LABEL,
      N: 32768,
      kind: 'ec prime256v1',
    },
    {
      file: 'policy-controller-example.cosign.key',
      password: '',
      label: COSIGN_KEY_LABEL,
      N: 32768,
      kind: 'ec prime256v1',
    },
    {
      file: 'sigstore-rs-cosign-generated-empty-password.key',
      password: '',
      label: SIGSTORE_KEY_LABEL,
      N: 65536,
      kind: 'ec prime256v1',
    },
    { file: 'sigstore-rs-ecdsa-pw123.key', password: '123', label: COSIGN_KEY_LABEL, N: 32768, kind: 'ec prime256v1' },
    { file: 'sigstore-rs-rsa-pw123.key', password: '123', label: SIGSTORE_KEY_LABEL, N: 32768, kind: 'rsa 4096' },
    { file: 'sigstore-rs-ed25519-pw123.key', password: '123', label: SIGSTORE_KEY_LABEL, N: 32768, kind: 'ed25519' },
  ];
  for (const c of cases) {
    test(`${c.file} decrypts with ${JSON.stringify(c.password)} to ${c.kind} and signs`, () => {
      const pem = fixture(c.file);
      assert.deepEqual(checkCosignKey(pem), { label: c.label, scryptN: c.N });
      const key = decryptCosignKey(pem, c.password);
      assert.equal(key.type, 'private');
      const d = key.asymmetricKeyDetails ?? {};
      const kind = [key.asymmetricKeyType, d.namedCurve ?? d.modulusLength].filter((x) => x !== undefined).join(' ');
      assert.equal(kind, c.kind);
      assertSignsAndVerifies(key);
    });
  }

  test('policy-controller-example: the decrypted key is the one of its .pub (password given as bytes)', () => {
    const key = decryptCosignKey(fixture('policy-controller-example.cosign.key'), new Uint8Array(0));
    const pub = fixture('policy-controller-example.cosign.pub');
    assert.equal(publicKeyPem(key), pub);
    assertSignsAndVerifies(key, pub);
  });

  test('cosign-ci-test (password unknown) does not open with the empty password', () => {
    assert.equal(
      refusal(() => decryptCosignKey(fixture('cosign-ci-test.cosign.key'), '')),
      'wrong password, or the key is corrupted',
    );
    // Its .pub is still a valid public key.
    parsePublicKey('ci', fixture('cosign-ci-test.cosign.pub'));
  });

  test('a wrong password is refused, as is the right one of another key', () => {
    assert.equal(
      refusal(() => decryptCosignKey(fixture('cosign-keys_test-sigstore.key'), 'hello!')),
      'wrong password, or the key is corrupted',
    );
    assert.equal(
      refusal(() => decryptCosignKey(fixture('cosign-keys_test-rsa.cosign.key'), '123')),
      'wrong password, or the key is corrupted',
    );
  });

  test('NEGATIVE cosign-keys_test-ec-sec1: decrypts, but to SEC1, which cosign cannot load either', () => {
    const pem = fixture('cosign-keys_test-ec-sec1.cosign.key');
    assert.equal(openCosignKey(pem, 'hello').length, 121);
    const why = refusal(() => decryptCosignKey(pem, 'hello'));
    assert.match(why, /decrypts, but to a SEC1 EC PRIVATE KEY, not PKCS#8/);
    assert.match(why, /cosign import-key-pair/);
  });
});

describe('keys we write', () => {
  test('cosign 2.2+ format at the real N=65536: label, envelope field order, sizes; decrypts and signs', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = encryptCosignKey(privateKey, 'correct horse');
    const lines = pem.trimEnd().split('\n');
    assert.equal(lines[0], `-----BEGIN ${SIGSTORE_KEY_LABEL}-----`);
    assert.equal(lines.at(-1), `-----END ${SIGSTORE_KEY_LABEL}-----`);
    for (const l of lines.slice(1, -2)) assert.equal(l.length, 64, 'PEM lines of 64 characters, as Go writes');
    const body = Buffer.from(lines.slice(1, -1).join(''), 'base64').toString('utf8');
    assert.match(
      body,
      /^\{"kdf":\{"name":"scrypt","params":\{"N":65536,"r":8,"p":1\},"salt":"[A-Za-z0-9+/]{43}="\},"cipher":\{"name":"nacl\/secretbox","nonce":"[A-Za-z0-9+/]{32}"\},"ciphertext":"[A-Za-z0-9+/=]+"\}$/,
    );
    const env = envelopeOf(pem) as { ciphertext: string };
    // PKCS#8 of a P-256 key (138 bytes, public key embedded, as Go's MarshalPKCS8PrivateKey) + the 16-byte tag.
    assert.equal(Buffer.from(env.ciphertext, 'base64').length, 138 + 16);
    const back = decryptCosignKey(pem, 'correct horse');
    assert.ok(back.equals(privateKey));
    assertSignsAndVerifies(back, publicKeyPem(privateKey));
  });

  const types: [string, () => KeyObject][] = [
    ['ECDSA P-256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey],
    ['ECDSA P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey],
    ['ECDSA P-521', () => generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey],
    ['RSA 2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey],
    ['Ed25519', () => generateKeyPairSync('ed25519').privateKey],
  ];
  for (const [name, make] of types) {
    test(`${name}: encrypt -> decrypt -> sign -> verify with the .pub (small scrypt N)`, () => {
      const key = make();
      const pem = encryptCosignKey(key, 'pässwörd', LOW_N);
      assert.deepEqual(checkCosignKey(pem, LOW_N), { label: SIGSTORE_KEY_LABEL, scryptN: 1024 });
      // A string password is its UTF-8 bytes, as Go's []byte(string).
      const back = decryptCosignKey(pem, new TextEncoder().encode('pässwörd'), LOW_N);
      assert.ok(back.equals(key));
      assertSignsAndVerifies(back, publicKeyPem(createPublicKey(key)));
      assert.equal(
        refusal(() => decryptCosignKey(pem, 'passwörd', LOW_N)),
        'wrong password, or the key is corrupted',
      );
    });
  }

  test('every key gets its own salt and nonce', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const a = envelopeOf(encryptCosignKey(privateKey, 'pw', LOW_N)) as {
      kdf: { salt: string };
      cipher: { nonce: string };
    };
    const b = envelopeOf(encryptCosignKey(privateKey, 'pw', LOW_N)) as {
      kdf: { salt: string };
      cipher: { nonce: string };
    };
    assert.notEqual(a.kdf.salt, b.kdf.salt);
    assert.notEqual(a.cipher.nonce, b.cipher.nonce);
  });

  test('the small N is accepted only where it is asked for; absurd overrides are programmer errors', () => {
    const pem = encryptCosignKey(generateKeyPairSync('ed25519').privateKey, 'pw', LOW_N);
    assert.equal(
      refusal(() => decryptCosignKey(pem, 'pw')),
      'unsupported scrypt parameters N=1024, r=8, p=1; cosign keys use N=32768, 65536, 131072 with r=8, p=1',
    );
    assert.throws(
      () => encryptCosignKey(generateKeyPairSync('ed25519').privateKey, 'pw', { scryptN: 1000 }),
      RangeError,
    );
    assert.throws(() => checkCosignKey(pem, { scryptN: 1 << 20 }), RangeError);
  });

  test('key types cosign cannot sign with are not written', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    assert.match(
      refusal(() => encryptCosignKey(privateKey, 'pw', LOW_N)),
      /curve secp256k1 is not supported/,
    );
    assert.match(
      refusal(() => encryptCosignKey(publicKey, 'pw', LOW_N)),
      /a private key is required/,
    );
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    assert.match(
      refusal(() => encryptCosignKey(small, 'pw', LOW_N)),
      /RSA key of 1024 bits is too small/,
    );
    const x = generateKeyPairSync('x25519').privateKey;
    assert.match(
      refusal(() => encryptCosignKey(x, 'pw', LOW_N)),
      /key type x25519 is not supported/,
    );
  });
});

describe('what decrypts but is not a cosign signing key', () => {
  const pkcs8 = (k: KeyObject): Uint8Array => k.export({ type: 'pkcs8', format: 'der' });
  const cases: [string, () => Uint8Array, RegExp][] = [
    [
      'a secp256k1 key',
      () => pkcs8(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey),
      /ECDSA curve secp256k1 is not supported; cosign keys use P-256, P-384 or P-521/,
    ],
    [
      'an RSA-1024 key',
      () => pkcs8(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey),
      /RSA key of 1024 bits is too small/,
    ],
    ['an X25519 key', () => pkcs8(generateKeyPairSync('x25519').privateKey), /key type x25519 is not supported/],
    [
      'a PKCS#1 RSA key',
      () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'der' }),
      /decrypts, but to a PKCS#1 RSA PRIVATE KEY, not PKCS#8/,
    ],
    ['random bytes', () => randomBytes(100), /decrypts, but not to a PKCS#8 private key/],
  ];
  for (const [name, plaintext, why] of cases) {
    test(`${name} is refused with its reason`, () => {
      assert.match(
        refusal(() => decryptCosignKey(sealed(plaintext(), 'pw'), 'pw', LOW_N)),
        why,
      );
    });
  }
});

describe('bad files: each refused with a one-line reason', () => {
  const good = encryptCosignKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'pw', LOW_N);
  interface Envelope {
    kdf: { name: unknown; params: Record<string, unknown>; salt?: unknown };
    cipher: { name: unknown; nonce: unknown };
    ciphertext: unknown;
  }
  const env = envelopeOf(good) as unknown as Envelope;
  /** `good` with its envelope changed by `edit`. */
  const withEnvelope = (edit: (e: Envelope) => void): string => {
    const copy = structuredClone(env);
    edit(copy);
    return pemOf(SIGSTORE_KEY_LABEL, JSON.stringify(copy));
  };
  const sec1Pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' });
  const lines = good.trimEnd().split('\n');

  const cases: [string, () => string, RegExp][] = [
    ['an empty file', () => '', /^no PEM block found; expected "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"/],
    [
      'an unencrypted EC PRIVATE KEY (SEC1)',
      () => sec1Pem.toString(),
      /^this is an unencrypted EC PRIVATE KEY; cosign expects an encrypted key .*cosign import-key-pair --key KEY/,
    ],
    [
      'an unencrypted PKCS#8 PRIVATE KEY',
      () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      /^this is an unencrypted PRIVATE KEY; cosign expects an encrypted key/,
    ],
    [
      'an OpenSSL-encrypted PKCS#8 key',
      () => pemOf('ENCRYPTED PRIVATE KEY', randomBytes(64)),
      /^this is an OpenSSL-encrypted PKCS#8 key, not a cosign key; decrypt it \(`openssl pkcs8/,
    ],
    [
      'a PUBLIC KEY',
      () => publicKeyPem(generateKeyPairSync('ed25519').publicKey),
      /^this is a PUBLIC KEY \(a cosign\.pub\); the private key \(cosign\.key\) is needed$/,
    ],
    [
      'a CERTIFICATE',
      () => pemOf('CERTIFICATE', randomBytes(64)),
      /^PEM type "CERTIFICATE" is not a cosign private key/,
    ],
    [
      'a PEM cut in half',
      () => good.slice(0, good.length / 2),
      /^the PEM block is truncated: no "-----END ENCRYPTED SIGSTORE PRIVATE KEY-----" line$/,
    ],
    [
      'a body missing its last lines',
      () => [...lines.slice(0, 4), lines.at(-1)].join('\n'),
      /^the key is garbled or truncated: its PEM body is not the JSON envelope cosign writes$/,
    ],
    [
      'a body with a character that is not base64',
      () => good.replace(/\n(.)/, '\n*'),
      /^the key is garbled: its PEM body is not standard base64: character "\*" is not allowed$/,
    ],
    ['an empty body', () => pemOf(SIGSTORE_KEY_LABEL, ''), /^the PEM body is empty$/],
    [
      'BEGIN and END that differ',
      () => good.replace(`END ${SIGSTORE_KEY_LABEL}`, `END ${COSIGN_KEY_LABEL}`),
      /^the PEM block is malformed: BEGIN ENCRYPTED SIGSTORE PRIVATE KEY but END ENCRYPTED COSIGN PRIVATE KEY$/,
    ],
    [
      'PEM headers',
      () => good.replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\n\n'),
      /^PEM headers \(such as Proc-Type\) are not part of a cosign key$/,
    ],
    ['a huge file', () => good + 'x'.repeat(70_000), /far too large for a cosign key/],
    ['JSON that is not an object', () => pemOf(SIGSTORE_KEY_LABEL, '[1,2]'), /^the key envelope is not a JSON object/],
    ['no kdf', () => withEnvelope((e) => delete (e as Partial<Envelope>).kdf), /^kdf is missing in the key envelope$/],
    [
      'another kdf',
      () => withEnvelope((e) => (e.kdf.name = 'argon2id')),
      /^unsupported key derivation "argon2id"; cosign keys use scrypt$/,
    ],
    [
      'another cipher',
      () => withEnvelope((e) => (e.cipher.name = 'aes-256-gcm')),
      /^unsupported cipher "aes-256-gcm"; cosign keys use nacl\/secretbox$/,
    ],
    [
      'scrypt N = 2^30 (16 GiB of memory)',
      () => withEnvelope((e) => (e.kdf.params.N = 2 ** 30)),
      /^unsupported scrypt parameters N=1073741824, r=8, p=1; cosign keys use N=32768, 65536, 131072 with r=8, p=1$/,
    ],
    [
      'scrypt r = 64',
      () => withEnvelope((e) => (e.kdf.params.r = 64)),
      /^unsupported scrypt parameters N=1024, r=64, p=1;/,
    ],
    [
      'scrypt p = 16',
      () => withEnvelope((e) => (e.kdf.params.p = 16)),
      /^unsupported scrypt parameters N=1024, r=8, p=16;/,
    ],
    [
      'N as a string',
      () => withEnvelope((e) => (e.kdf.params.N = '65536')),
      /^kdf\.params\.N is not an integer in the key envelope$/,
    ],
    ['no salt', () => withEnvelope((e) => delete e.kdf.salt), /^kdf\.salt is missing in the key envelope$/],
    [
      'a 12-byte nonce',
      () => withEnvelope((e) => (e.cipher.nonce = randomBytes(12).toString('base64'))),
      /^cipher\.nonce is 12 bytes; secretbox needs 24$/,
    ],
    [
      'a ciphertext no longer than its tag',
      () => withEnvelope((e) => (e.ciphertext = randomBytes(16).toString('base64'))),
      /^the ciphertext is 16 bytes, no longer than its 16-byte tag: truncated$/,
    ],
    [
      'a ciphertext in URL-safe base64',
      () => withEnvelope((e) => (e.ciphertext = 'ab-_')),
      /^ciphertext is not standard base64: character "-" is not allowed$/,
    ],
  ];
  for (const [name, make, why] of cases) {
    test(name, () => {
      // Decrypting at the small N accepted here: a refusal can only come from the check under test.
      assert.match(
        refusal(() => decryptCosignKey(make(), 'pw', LOW_N)),
        why,
      );
    });
  }

  test('the unchanged file decrypts (so the refusals above are the edits, not the base)', () => {
    decryptCosignKey(
      withEnvelope(() => undefined),
      'pw',
      LOW_N,
    );
    decryptCosignKey(good, 'pw', LOW_N);
  });

  test('one flipped byte of the ciphertext is caught by the authentication tag', () => {
    const pem = withEnvelope((e) => {
      const ct = Buffer.from(e.ciphertext as string, 'base64');
      ct[40] = (ct[40] ?? 0) ^ 1;
      e.ciphertext = ct.toString('base64');
    });
    assert.equal(
      refusal(() => decryptCosignKey(pem, 'pw', LOW_N)),
      'wrong password, or the key is corrupted',
    );
  });

  test('text around the PEM block and CRLF line ends are read, as Go reads them', () => {
    decryptCosignKey(`a note\r\n${good.replace(/\n/g, '\r\n')}trailing`, 'pw', LOW_N);
  });
});
