// Certificates for the test registries, minted in-process with the test sigstore's DER builder
// (test-sigstore-der.ts) and node:crypto, no openssl process: a CA plus a server certificate for 127.0.0.1/localhost
// (registry TLS, ECDSA P-256), and a self-signed RSA signing certificate for the token issuer (distribution's
// `auth.token.rootcertbundle`; token-server.ts signs RS256 with its key). Keys are written as unencrypted PKCS#8
// PEM, which Go's tls.LoadX509KeyPair (distribution) and node:crypto both read.
import { generateKeyPair, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  authorityKeyId,
  caConstraints,
  dnsName,
  endEntityConstraints,
  extKeyUsage,
  ipAddress,
  keyUsage,
  name,
  OID,
  pem,
  randomSerial,
  signCertificate,
  subjectAltName,
  subjectKeyId,
  tbsCertificate,
  type Der,
} from './test-sigstore-der.ts';

export interface TlsFiles {
  /** The CA certificate (PEM file) clients must trust. */
  caFile: string;
  caPem: string;
  /** A directory holding only ca.crt: the shape skopeo's --cert-dir and containers' certs.d expect. */
  certDir: string;
  certFile: string;
  keyFile: string;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Valid for 30 days from an hour ago (a little slack for a clock that is behind). */
function validity(): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - HOUR), notAfter: new Date(now + 30 * DAY) };
}

/** A certificate of `key` under `subject`, issued by `issuer` (self-signed when it is the subject itself). */
function certify(
  subject: Der,
  key: KeyObject,
  issuer: { subject: Der; key: KeyObject },
  extensions: readonly Der[],
): string {
  const tbs = tbsCertificate({
    serial: randomSerial(),
    issuer: issuer.subject,
    subject,
    ...validity(),
    key,
    signer: issuer.key,
    extensions: [...extensions, subjectKeyId(key), authorityKeyId(issuer.key)],
  });
  return pem(signCertificate(tbs, issuer.key));
}

const pkcs8 = (key: KeyObject): string => key.export({ type: 'pkcs8', format: 'pem' }) as string;
const newKey = promisify(generateKeyPair);
const newP256 = async (): Promise<KeyObject> => (await newKey('ec', { namedCurve: 'P-256' })).privateKey;

/** Make a CA and a server certificate for IP:127.0.0.1 and DNS:localhost under `dir`. */
export async function makeTlsCerts(dir: string): Promise<TlsFiles> {
  const certDir = join(dir, 'ca');
  mkdirSync(certDir, { recursive: true });
  const caFile = join(certDir, 'ca.crt');
  const certFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  const ca = { subject: name({ cn: 'sigward-test-ca' }), key: await newP256() };
  const caPem = certify(ca.subject, ca.key, ca, [keyUsage(5, 6), caConstraints()]);
  const serverKey = await newP256();
  // Go's TLS stack (distribution, skopeo, containerd) ignores the CN: the SAN must name 127.0.0.1.
  const serverPem = certify(name({ cn: '127.0.0.1' }), serverKey, ca, [
    subjectAltName(false, ipAddress('127.0.0.1'), dnsName('localhost')),
    endEntityConstraints(),
    keyUsage(0),
    extKeyUsage(OID.serverAuth),
  ]);
  writeFileSync(join(dir, 'ca.key'), pkcs8(ca.key), { mode: 0o600 });
  writeFileSync(caFile, caPem);
  writeFileSync(keyFile, pkcs8(serverKey), { mode: 0o600 });
  writeFileSync(certFile, serverPem);
  return { caFile, caPem, certDir, certFile, keyFile };
}

export interface SigningCert {
  keyFile: string;
  certFile: string;
  keyPem: string;
  certPem: string;
}

/** Make a self-signed RSA certificate and key under `dir` (the token issuer's signer). */
export async function makeSigningCert(dir: string, commonName = 'sigward-test-token-signer'): Promise<SigningCert> {
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, 'signing.key');
  const certFile = join(dir, 'signing.crt');
  const { privateKey } = await newKey('rsa', { modulusLength: 2048 });
  const subject = name({ cn: commonName });
  const certPem = certify(subject, privateKey, { subject, key: privateKey }, [keyUsage(0, 5), caConstraints()]);
  const keyPem = pkcs8(privateKey);
  writeFileSync(keyFile, keyPem, { mode: 0o600 });
  writeFileSync(certFile, certPem);
  return { keyFile, certFile, keyPem, certPem };
}
