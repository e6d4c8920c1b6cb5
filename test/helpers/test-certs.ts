// Certificates for the test registries, made with the openssl CLI (as the users of a private registry do):
// a CA plus a server certificate for 127.0.0.1/localhost (registry TLS), and a self-signed signing certificate
// for the token issuer (distribution's `auth.token.rootcertbundle`).
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`openssl ${args[0] ?? ''} failed in ${cwd}: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

export interface TlsFiles {
  /** The CA certificate (PEM file) clients must trust. */
  caFile: string;
  caPem: string;
  /** A directory holding only ca.crt: the shape skopeo's --cert-dir and containers' certs.d expect. */
  certDir: string;
  certFile: string;
  keyFile: string;
}

/** `openssl req` for a self-signed RSA certificate valid for 30 days; the subject follows. */
const SELF_SIGNED = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj'];

/** Make a CA and a server certificate for IP:127.0.0.1 and DNS:localhost under `dir`. */
export async function makeTlsCerts(dir: string): Promise<TlsFiles> {
  const certDir = join(dir, 'ca');
  mkdirSync(certDir, { recursive: true });
  const caFile = join(certDir, 'ca.crt');
  const certFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  await openssl(
    [
      ...SELF_SIGNED,
      '/CN=sigward-test-ca',
      '-keyout',
      'ca.key',
      '-out',
      caFile,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  await openssl(
    ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', keyFile, '-out', 'server.csr'],
    dir,
  );
  // Go's TLS stack (distribution, skopeo, containerd) ignores the CN: the SAN must name 127.0.0.1.
  writeFileSync(
    join(dir, 'server.ext'),
    [
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      caFile,
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '30',
      '-extfile',
      'server.ext',
      '-out',
      certFile,
    ],
    dir,
  );
  return { caFile, caPem: readFileSync(caFile, 'utf8'), certDir, certFile, keyFile };
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
  await openssl([...SELF_SIGNED, `/CN=${commonName}`, '-keyout', keyFile, '-out', certFile], dir);
  return { keyFile, certFile, keyPem: readFileSync(keyFile, 'utf8'), certPem: readFileSync(certFile, 'utf8') };
}
