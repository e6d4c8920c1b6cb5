// parsePublicKey (trusted key PEMs) and the signature-bytes layer: base64 grammar, schemes, encodings, hashes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { isSigwardError } from '../../src/errors.ts';
import { decodeStdBase64, parsePublicKey, verifyMessage } from '../../src/verify/index.ts';
import { publicKeyPem, signBytes } from '../../src/sign/signer.ts';

const COSIGN_PUB = readFileSync(new URL('../fixtures/cimage-cosign-key-only/cosign.pub', import.meta.url), 'utf8');
const CERT_PEM = readFileSync(new URL('../fixtures/cimage-cosign-pki/certificate.pem', import.meta.url), 'utf8');
const pemOf = (k: KeyObject): string => publicKeyPem(k);

function assertKeyInvalid(pem: string, why: RegExp): void {
  assert.throws(
    () => parsePublicKey('k', pem),
    (e: unknown) => {
      assert.ok(isSigwardError(e, 'KEY_INVALID'), String(e));
      assert.match(e.message, /^trusted key "k": /);
      assert.match(e.message, why);
      return true;
    },
  );
}

describe('parsePublicKey', () => {
  test('the real cosign.pub: P-256, keyId = sha256 of the SPKI DER in the PEM', () => {
    const k = parsePublicKey('cosign', COSIGN_PUB);
    const der = Buffer.from(COSIGN_PUB.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''), 'base64');
    assert.equal(k.algorithm, 'ecdsa-p256');
    assert.equal(k.keyId, createHash('sha256').update(der).digest('hex'));
    assert.deepEqual(Buffer.from(k.spkiDer), der);
    assert.equal(k.key.type, 'public');
    assert.equal(k.name, 'cosign');
  });

  const kinds: [string, () => KeyObject, string][] = [
    ['P-256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, 'ecdsa-p256'],
    ['P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey, 'ecdsa-p384'],
    ['P-521', () => generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey, 'ecdsa-p521'],
    ['RSA-2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey, 'rsa'],
    ['Ed25519', () => generateKeyPairSync('ed25519').publicKey, 'ed25519'],
  ];
  for (const [name, make, alg] of kinds) {
    test(`accepts ${name}`, () => {
      assert.equal(parsePublicKey(name, pemOf(make())).algorithm, alg);
    });
  }

  test('accepts CRLF line endings and surrounding whitespace', () => {
    assert.equal(parsePublicKey('k', `\n  ${COSIGN_PUB.replace(/\n/g, '\r\n')}  \n`).algorithm, 'ecdsa-p256');
  });

  test('refuses RSA below 2048 bits, naming the size', () => {
    assertKeyInvalid(pemOf(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey), /1024 bits is too small/);
  });
  test('refuses other curves, naming the curve', () => {
    assertKeyInvalid(
      pemOf(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey),
      /curve secp256k1 is not supported/,
    );
  });
  test('refuses Ed448 and X25519, naming the type', () => {
    assertKeyInvalid(pemOf(generateKeyPairSync('ed448').publicKey), /key type ed448/);
    assertKeyInvalid(pemOf(generateKeyPairSync('x25519').publicKey), /key type x25519/);
  });
  test('refuses RSA-PSS-restricted keys', () => {
    assertKeyInvalid(pemOf(generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey), /RSA-PSS/);
  });
  test('refuses a certificate, saying where certificate trust goes (trust.cas + identities) or how to extract the key', () => {
    assertKeyInvalid(CERT_PEM, /CERTIFICATE, not a PUBLIC KEY.*trust\.cas.*identities.*openssl x509 -pubkey/s);
  });
  test('refuses a private key, saying to give the public key', () => {
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    assertKeyInvalid(pem, /PRIVATE KEY.*PUBLIC KEY/);
  });
  test('refuses PKCS#1 "RSA PUBLIC KEY", two blocks, no block, bad base64, trailing DER bytes, garbage DER', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    assertKeyInvalid(rsa.export({ type: 'pkcs1', format: 'pem' }).toString(), /"RSA PUBLIC KEY" is not supported/);
    assertKeyInvalid(COSIGN_PUB + COSIGN_PUB, /2 PEM blocks/);
    assertKeyInvalid('MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE', /no PEM block/);
    assertKeyInvalid(COSIGN_PUB.replace('MFkw', 'MF*w'), /not standard base64/);
    const der = Buffer.from(COSIGN_PUB.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, ''), 'base64');
    const wrap = (b: Buffer): string =>
      `-----BEGIN PUBLIC KEY-----\n${b.toString('base64')}\n-----END PUBLIC KEY-----\n`;
    assertKeyInvalid(wrap(Buffer.concat([der, Buffer.from([0, 0])])), /bytes after the DER/);
    assertKeyInvalid(wrap(Buffer.from('not a key at all')), /not a valid DER SubjectPublicKeyInfo/);
    assertKeyInvalid(
      `-----BEGIN PUBLIC KEY-----\n${der.toString('base64')}\n-----END PRIVATE KEY-----`,
      /do not match/,
    );
  });
});

describe('decodeStdBase64 (Go StdEncoding)', () => {
  const good: [string, number[]][] = [
    ['', []],
    ['AA==', [0]],
    ['AAE=', [0, 1]],
    ['AAEC', [0, 1, 2]],
    ['+/+/', [251, 255, 191]],
    ['AA\n==', [0]],
    ['AAEC\r\nAAEC\n', [0, 1, 2, 0, 1, 2]],
    ['A\nA\r=\n=', [0]],
  ];
  for (const [text, bytes] of good) {
    test(`accepts ${JSON.stringify(text)}`, () => {
      const r = decodeStdBase64(text);
      assert.ok(r.ok, r.ok ? '' : r.problem);
      assert.deepEqual([...r.value], bytes);
    });
  }
  const bad = [
    'AA',
    'AAE',
    'A===',
    '=AAA',
    'AA=A',
    'AA==AA==',
    'AA AA',
    'AA\tA=',
    '-_-_',
    'AAEC=',
    'AA==\u0000',
    'ÀAAA',
  ];
  for (const text of bad) {
    test(`refuses ${JSON.stringify(text)}`, () => {
      assert.equal(decodeStdBase64(text).ok, false);
    });
  }
});

/** DER SEQUENCE{INTEGER r, INTEGER s} from big-endian magnitudes (short form lengths: enough for P-256). */
function derSig(r: bigint, s: bigint): Buffer {
  const int = (v: bigint): Buffer => {
    let hex = v.toString(16);
    if (hex.length % 2) hex = `0${hex}`;
    let b = Buffer.from(hex, 'hex');
    if ((b[0] ?? 0) & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
    return Buffer.concat([Buffer.from([0x02, b.length]), b]);
  };
  const body = Buffer.concat([int(r), int(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

describe('verifyMessage', () => {
  const msg = Buffer.from('the exact payload bytes');
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const k256 = parsePublicKey('p256', pemOf(p256.publicKey));

  test('ECDSA DER with SHA-256', () => {
    assert.equal(verifyMessage(k256, msg, signBytes(p256.privateKey, msg)), 'ecdsa-sha256-der');
  });
  test('ECDSA raw r||s (IEEE P1363) is accepted as a fallback', () => {
    const raw = signBytes(p256.privateKey, msg, { ecdsaEncoding: 'ieee-p1363' });
    assert.equal(raw.length, 64);
    assert.equal(verifyMessage(k256, msg, raw), 'ecdsa-sha256-p1363');
  });
  test('no low-S rule: both s and n-s verify (Go does not normalise S)', () => {
    const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
    const raw = Buffer.from(signBytes(p256.privateKey, msg, { ecdsaEncoding: 'ieee-p1363' }));
    const r = BigInt(`0x${raw.subarray(0, 32).toString('hex')}`);
    const s = BigInt(`0x${raw.subarray(32).toString('hex')}`);
    const high = s > n / 2n ? s : n - s;
    const low = n - high;
    assert.ok(high > n / 2n && low < n / 2n);
    assert.equal(verifyMessage(k256, msg, derSig(r, high)), 'ecdsa-sha256-der');
    assert.equal(verifyMessage(k256, msg, derSig(r, low)), 'ecdsa-sha256-der');
    assert.equal(verifyMessage(k256, msg, derSig(r, low + 1n)), undefined);
  });
  test('P-256 refuses SHA-384; P-384 accepts SHA-256 and SHA-384 but not SHA-512; P-521 accepts SHA-512', () => {
    assert.equal(verifyMessage(k256, msg, signBytes(p256.privateKey, msg, { hash: 'sha384' })), undefined);
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const k384 = parsePublicKey('p384', pemOf(p384.publicKey));
    assert.equal(verifyMessage(k384, msg, signBytes(p384.privateKey, msg)), 'ecdsa-sha256-der');
    assert.equal(verifyMessage(k384, msg, signBytes(p384.privateKey, msg, { hash: 'sha384' })), 'ecdsa-sha384-der');
    assert.equal(verifyMessage(k384, msg, signBytes(p384.privateKey, msg, { hash: 'sha512' })), undefined);
    assert.equal(
      verifyMessage(k384, msg, signBytes(p384.privateKey, msg, { hash: 'sha384', ecdsaEncoding: 'ieee-p1363' })),
      'ecdsa-sha384-p1363',
    );
    const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
    const k521 = parsePublicKey('p521', pemOf(p521.publicKey));
    assert.equal(verifyMessage(k521, msg, signBytes(p521.privateKey, msg, { hash: 'sha512' })), 'ecdsa-sha512-der');
    assert.equal(
      verifyMessage(k521, msg, signBytes(p521.privateKey, msg, { hash: 'sha512', ecdsaEncoding: 'ieee-p1363' })),
      'ecdsa-sha512-p1363',
    );
  });
  test('RSA PKCS#1 v1.5 SHA-256 only (not PSS, not SHA-512)', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const k = parsePublicKey('rsa', pemOf(rsa.publicKey));
    assert.equal(verifyMessage(k, msg, signBytes(rsa.privateKey, msg)), 'rsa-pkcs1v15-sha256');
    assert.equal(verifyMessage(k, msg, sign('sha512', msg, rsa.privateKey)), undefined);
    assert.equal(verifyMessage(k, msg, sign('sha256', msg, { key: rsa.privateKey, padding: 6 })), undefined); // RSA_PKCS1_PSS_PADDING
  });
  test('Ed25519 pure', () => {
    const ed = generateKeyPairSync('ed25519');
    const k = parsePublicKey('ed', pemOf(ed.publicKey));
    assert.equal(verifyMessage(k, msg, signBytes(ed.privateKey, msg)), 'ed25519');
    assert.equal(verifyMessage(k, Buffer.concat([msg, Buffer.from('x')]), signBytes(ed.privateKey, msg)), undefined);
  });
  test('garbage, empty and wrong-key signatures are simply "no", never a throw', () => {
    const other = parsePublicKey('other', pemOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey));
    const ed = parsePublicKey('ed', pemOf(generateKeyPairSync('ed25519').publicKey));
    const rsa = parsePublicKey('rsa', pemOf(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey));
    const good = signBytes(p256.privateKey, msg);
    for (const k of [k256, other, ed, rsa]) {
      for (const sig of [new Uint8Array(0), new Uint8Array(64), new Uint8Array(1000).fill(0x30), good]) {
        const expected = k === k256 && sig === good ? 'ecdsa-sha256-der' : undefined;
        assert.equal(verifyMessage(k, msg, sig), expected);
      }
    }
  });
});
