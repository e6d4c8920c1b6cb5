// Body binding, the half of a transparency-log check that says the logged entry is about THIS signer. @sigstore/verify
// compares the logged signature and digest with the bundle's; it does not compare the logged key or certificate.
// cosign does (pkg/cosign/verify.go comparePublicKey; skipping it was GHSA-whqx-f9j3-ch6m), so this module adds that
// comparison for every entry: the verifier in the body must be the signing certificate (byte for byte) or the
// trusted key (same SubjectPublicKeyInfo).
import { X509Certificate as NodeX509, createPublicKey } from 'node:crypto';
import type { TransparencyLogEntry } from '@sigstore/bundle';
import { isObject } from './outcome.ts';

export type Signer = { readonly certificate: Uint8Array } | { readonly spki: Uint8Array };

/** Why an entry is not about this signer, or undefined when every entry names it. */
export function bindingProblem(entries: readonly TransparencyLogEntry[], signer: Signer): string | undefined {
  for (const entry of entries) {
    let body: unknown;
    try {
      body = JSON.parse(entry.canonicalizedBody.toString('utf8'));
    } catch {
      return 'the transparency-log entry body is not JSON';
    }
    const verifiers = loggedVerifiers(body);
    if (verifiers === undefined) {
      const kind = isObject(body) ? `${String(body['kind'])} ${String(body['apiVersion'])}` : 'unknown';
      return `the transparency-log entry is of kind ${kind}, which does not log an image signature`;
    }
    if (verifiers.length !== 1) return `the transparency-log entry names ${verifiers.length} verifiers, expected one`;
    const [logged] = verifiers;
    if (logged === undefined || !sameSigner(logged, signer)) {
      return 'the transparency-log entry was made for another key or certificate (a log entry copied from another signature)';
    }
  }
  return undefined;
}

/** The DER (certificate or SubjectPublicKeyInfo) of each verifier an entry body names; undefined for kinds that do
 * not log a signature. */
type Logged = { readonly der: Buffer; readonly cert: boolean };

function loggedVerifiers(body: unknown): Logged[] | undefined {
  if (!isObject(body) || !isObject(body['spec'])) return undefined;
  const spec = body['spec'];
  const kind = body['kind'];
  const version = body['apiVersion'];
  if (kind === 'hashedrekord' && version === '0.0.1') {
    const content = path(spec, ['signature', 'publicKey', 'content']);
    return typeof content === 'string' ? pems(Buffer.from(content, 'base64').toString('utf8')) : [];
  }
  if (kind === 'dsse' && version === '0.0.1') {
    const sigs = spec['signatures'];
    if (!Array.isArray(sigs)) return [];
    return sigs.flatMap((s) =>
      isObject(s) && typeof s['verifier'] === 'string'
        ? pems(Buffer.from(s['verifier'], 'base64').toString('utf8'))
        : [],
    );
  }
  if ((kind === 'hashedrekord' || kind === 'dsse') && version === '0.0.2') {
    const inner = kind === 'hashedrekord' ? spec['hashedRekordV002'] : spec['dsseV002'];
    if (!isObject(inner)) return [];
    const sigs = kind === 'hashedrekord' ? [inner['signature']] : inner['signatures'];
    if (!Array.isArray(sigs)) return [];
    return sigs.flatMap((s): Logged[] => {
      const cert = path(s, ['verifier', 'x509Certificate', 'rawBytes']);
      if (typeof cert === 'string') return [{ der: Buffer.from(cert, 'base64'), cert: true }];
      const key = path(s, ['verifier', 'publicKey', 'rawBytes']);
      return typeof key === 'string' ? [{ der: Buffer.from(key, 'base64'), cert: false }] : [];
    });
  }
  return undefined;
}

function pems(text: string): Logged[] {
  const out: Logged[] = [];
  for (const m of text.matchAll(/-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/g)) {
    const der = Buffer.from((m[2] ?? '').replace(/\s+/g, ''), 'base64');
    if (m[1] === 'CERTIFICATE') out.push({ der, cert: true });
    else if (m[1] === 'PUBLIC KEY') out.push({ der, cert: false });
  }
  return out;
}

function sameSigner(logged: Logged, signer: Signer): boolean {
  try {
    if ('certificate' in signer) return logged.cert && logged.der.equals(Buffer.from(signer.certificate));
    const spki = logged.cert
      ? new NodeX509(logged.der).publicKey.export({ type: 'spki', format: 'der' })
      : createPublicKey({ key: logged.der, format: 'der', type: 'spki' }).export({ type: 'spki', format: 'der' });
    return spki.equals(Buffer.from(signer.spki));
  } catch {
    return false;
  }
}

function path(v: unknown, keys: readonly string[]): unknown {
  let at = v;
  for (const k of keys) {
    if (!isObject(at)) return undefined;
    at = at[k];
  }
  return at;
}
