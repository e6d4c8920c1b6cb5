// Who a certificate names (verify/identity.ts), on certificates minted with any SAN and extension: every SAN kind a
// signer may be named by (email, URI, DNS, IP, Fulcio's otherName username) read as cosign reads it, the kinds that
// name nobody skipped, and every undecodable name or issuer refused with what is wrong in it rather than guessed at
// or thrown. Directly through certificateIdentity, and end to end under a private CA: a legacy layer matches any SAN,
// a bundle the first URI, else email, else otherName.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { X509Certificate } from '@sigstore/core';
import { digestOf } from '../../src/oci/digest.ts';
import { MT } from '../../src/oci/mediatypes.ts';
import { verifySignature } from '../../src/verify/index.ts';
import { privateCa } from '../../src/verify/authority.ts';
import { certificateIdentity, type CertificateIdentity } from '../../src/verify/identity.ts';
import type { UntrustedSignature, VerifyContext } from '../../src/verify/types.ts';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { cosignSignStatement } from '../../src/sign/bundle.ts';
import { createTestCa, createTestSigstore, type IssuedCert } from '../helpers/test-sigstore.ts';
import {
  authorityKeyId,
  ctx,
  ctxPrim,
  extension,
  extKeyUsage,
  int,
  keyUsage,
  name,
  newP256,
  OID,
  oid,
  pem,
  randomSerial,
  seq,
  signCertificate,
  subjectKeyId,
  tbsCertificate,
  utf8String,
  type Der,
} from '../helpers/test-sigstore-der.ts';
import { refused, verified } from '../helpers/verdicts.ts';

const NOW = new Date('2025-06-01T12:00:00Z');
const ss = createTestSigstore({ now: NOW });
const ca = createTestCa({ now: NOW });
const CORP = privateCa('corp', ca.rootsPem, ca.intermediatesPem);
const FULCIO = '1.3.6.1.4.1.57264.1';
const DAY = 86_400_000;

// GeneralName encodings (RFC 5280 4.2.1.6).
const email = (s: string | Buffer): Der => ctxPrim(1, Buffer.from(s));
const dns = (s: string): Der => ctxPrim(2, Buffer.from(s));
const uri = (s: string): Der => ctxPrim(6, Buffer.from(s));
const ip = (...bytes: number[]): Der => ctxPrim(7, Buffer.from(bytes));
const otherName = (typeId: string, value: Der): Der => ctx(0, oid(typeId), ctx(0, value));
const directoryName = (cn: string): Der => ctx(4, name({ cn }));
const san = (...names: Der[]): Der => extension(OID.subjectAltName, false, seq(...names));
const raw = (arc: number, value: Uint8Array | string): Der => extension(`${FULCIO}.${arc}`, false, Buffer.from(value));

/** A leaf of the private CA with exactly these extensions after keyUsage, EKU codeSigning (unless `eku: false`),
 * SKI and AKI. */
function leaf(extensions: readonly Der[], opts: { eku?: boolean } = {}): IssuedCert {
  const { privateKey, publicKey } = newP256();
  const spec = {
    serial: randomSerial(),
    issuer: ca.intermediate.subject,
    subject: name(),
    notBefore: new Date(NOW.getTime() - DAY),
    notAfter: new Date(NOW.getTime() + DAY),
    key: publicKey,
    extensions: [
      keyUsage(0),
      ...(opts.eku === false ? [] : [extKeyUsage(OID.codeSigning)]),
      subjectKeyId(publicKey),
      authorityKeyId(ca.intermediate.privateKey),
      ...extensions,
    ],
  };
  const certDer = signCertificate(tbsCertificate(spec), ca.intermediate.privateKey);
  return {
    certPem: pem(certDer),
    certDer,
    chainPem: ca.intermediatesPem + ca.rootsPem,
    privateKey,
    publicKey: createPublicKey(privateKey),
    notBefore: spec.notBefore,
    notAfter: spec.notAfter,
  };
}

const identityOf = (extensions: readonly Der[], opts?: { eku?: boolean }) =>
  certificateIdentity(X509Certificate.parse(leaf(extensions, opts).certDer));
function reads(extensions: readonly Der[], want: CertificateIdentity): void {
  assert.deepEqual(identityOf(extensions), { ok: true, value: want });
}
function refuses(extensions: readonly Der[], problem: string, opts?: { eku?: boolean }): void {
  assert.deepEqual(identityOf(extensions, opts), { ok: false, problem });
}
const undecodable = (why: string): string => `its extensions cannot be decoded (${why})`;

describe('certificateIdentity: subject alternative names', () => {
  test('every kind that names a signer, in certificate order', () => {
    reads(
      [
        san(
          dns('build.example.com'),
          email('ci@example.com'),
          ip(10, 0, 0, 7),
          uri('https://ci.example.com/job'),
          otherName(`${FULCIO}.7`, utf8String('octocat!github.com')),
        ),
      ],
      {
        names: [
          { type: 'dns', value: 'build.example.com' },
          { type: 'email', value: 'ci@example.com' },
          { type: 'ip', value: '10.0.0.7' },
          { type: 'uri', value: 'https://ci.example.com/job' },
          { type: 'othername', value: 'octocat!github.com' },
        ],
        github: {},
      },
    );
  });

  test('IPv6 addresses are written as Go writes them (cosign compares net.IP.String())', () => {
    const v6 = (...groups: number[]): Der => ip(...groups.flatMap((g) => [g >> 8, g & 0xff]));
    const names = (...values: string[]) => ({
      names: values.map((value) => ({ type: 'ip' as const, value })),
      github: {},
    });
    reads([san(v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))], names('2001:db8::1'));
    reads([san(v6(0, 0, 0, 0, 0, 0, 0, 1), v6(0, 0, 0, 0, 0, 0, 0, 0))], names('::1', '::'));
    reads([san(v6(0xfe80, 0, 0, 0, 0x1ff, 0xfe23, 0x4567, 0x890a))], names('fe80::1ff:fe23:4567:890a'));
    // One zero group is not shortened; of two zero runs the longer (or, equal, the first) is.
    reads([san(v6(0x2001, 0xdb8, 0, 1, 1, 1, 1, 1))], names('2001:db8:0:1:1:1:1:1'));
    reads([san(v6(0x2001, 0, 0, 1, 0, 0, 0, 1))], names('2001:0:0:1::1'));
    reads([san(v6(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1))], names('2001:db8::1:0:0:1'));
    // An IPv4 address in its IPv6-mapped form is written as IPv4, as Go does.
    reads([san(v6(0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0007))], names('10.0.0.7'));
  });

  test('names that name no signer are skipped: a directory name, another otherName type', () => {
    reads([san(directoryName('ci'), otherName('1.3.6.1.4.1.311.20.2.3', utf8String('upn@corp')), email('a@b.c'))], {
      names: [{ type: 'email', value: 'a@b.c' }],
      github: {},
    });
  });

  test('no SAN, or only kinds that name nobody -> no signer', () => {
    const none = 'it has no subject alternative name, so it names no signer';
    refuses([], none);
    refuses([san(directoryName('ci'))], none);
    refuses([san()], none);
  });

  test('two SAN extensions: refused, not one of them picked (Go refuses a repeated extension)', () => {
    refuses(
      [san(email('ci@example.com')), san(email('admin@example.com'))],
      undecodable('extension 2.5.29.17 appears twice'),
    );
  });

  test('an extension without its value -> refused as malformed', () => {
    refuses([san(email('ci@example.com')), seq(oid(`${FULCIO}.1`))], undecodable('an extension is malformed'));
  });

  test('undecodable names are refused, saying which', () => {
    refuses([san(email(Buffer.from('ci@exämple.com', 'utf8')))], undecodable('an email SAN is not ASCII'));
    refuses([san(dns('bücher.example'))], undecodable('a DNS SAN is not ASCII'));
    refuses([san(uri('https://exämple.com'))], undecodable('a URI SAN is not ASCII'));
    refuses([san(ip(10, 0, 0, 0, 7))], undecodable('an IP address SAN has 5 bytes'));
    refuses([san(utf8String('ci@example.com'))], undecodable('a subject alternative name is not a GeneralName'));
    refuses(
      [extension(OID.subjectAltName, false, Buffer.from('not DER at all'))],
      undecodable('the subject alternative name extension is not DER'),
    );
    refuses([san(otherName(`${FULCIO}.7`, int(7)))], undecodable('expected a DER string, found tag 2'));
  });
});

describe('certificateIdentity: issuer, claims and key usage', () => {
  const names = [{ type: 'email' as const, value: 'ci@example.com' }];
  const SAN = san(email('ci@example.com'));

  test('.1 (raw) and .8 (a DER string: UTF8String, IA5String or PrintableString; long or short form)', () => {
    reads([SAN, raw(1, 'https://issuer.example')], { names, issuer: 'https://issuer.example', github: {} });
    for (const tag of [0x0c, 0x16, 0x13]) {
      const der = Buffer.concat([Buffer.from([tag, 22]), Buffer.from('https://issuer.example')]);
      reads([SAN, extension(`${FULCIO}.8`, false, der)], { names, issuer: 'https://issuer.example', github: {} });
    }
    const long = `https://issuer.example/${'x'.repeat(300)}`;
    reads([SAN, extension(`${FULCIO}.8`, false, utf8String(long))], { names, issuer: long, github: {} });
    reads([SAN, raw(1, long), extension(`${FULCIO}.8`, false, utf8String(long))], { names, issuer: long, github: {} });
  });

  test('.8 that is not a DER string, or whose length disagrees with its bytes -> refused', () => {
    refuses([SAN, extension(`${FULCIO}.8`, false, int(8))], undecodable('expected a DER string, found tag 2'));
    const trailing = Buffer.concat([utf8String('https://issuer.example'), Buffer.from([0])]);
    refuses([SAN, raw(8, trailing)], undecodable('DER string length does not match its bytes'));
    refuses([SAN, raw(8, Buffer.from([0x0c]))], undecodable('DER string length does not match its bytes'));
    const short = utf8String('https://issuer.example').subarray(0, 10);
    refuses([SAN, raw(8, short)], undecodable('DER string length does not match its bytes'));
  });

  test('.1 and .8 naming two issuers -> refused, naming both', () => {
    refuses(
      [SAN, raw(1, 'https://a.example'), extension(`${FULCIO}.8`, false, utf8String('https://b.example'))],
      'it names two different OIDC issuers (https://a.example and https://b.example)',
    );
  });

  test('GitHub workflow claims .2 to .6 are raw bytes', () => {
    reads([SAN, raw(2, 'push'), raw(3, 'abc123'), raw(4, 'release'), raw(5, 'acme/app'), raw(6, 'refs/heads/main')], {
      names,
      github: { trigger: 'push', sha: 'abc123', name: 'release', repository: 'acme/app', ref: 'refs/heads/main' },
    });
  });

  test('EKU without codeSigning, or not DER -> refused; no EKU at all is any usage', () => {
    refuses(
      [SAN, extKeyUsage('1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2')],
      'its extended key usage (1.3.6.1.5.5.7.3.1, 1.3.6.1.5.5.7.3.2) does not include code signing',
      { eku: false },
    );
    refuses(
      [SAN, extension(OID.extKeyUsage, false, Buffer.from('junk'))],
      undecodable('the extended key usage extension is not DER'),
      { eku: false },
    );
    reads([SAN], { names, github: {} });
    assert.deepEqual(identityOf([SAN], { eku: false }), { ok: true, value: { names, github: {} } });
  });
});

describe('end to end under a private CA: which SAN a policy subject is matched against', () => {
  const IMAGE = digestOf(Buffer.from('{"schemaVersion":2,"name":"acme/names"}'));
  const PAYLOAD = simpleSigningPayload({ dockerReference: 'registry.test/acme/names', digest: IMAGE });
  const STATEMENT = cosignSignStatement({ digest: IMAGE });
  const want = (subject: string): VerifyContext => ({
    digest: IMAGE,
    keys: [],
    identities: [{ name: 'ci', authority: CORP, subject: { exact: subject }, github: {} }],
    now: NOW,
  });
  const legacy = (cert: IssuedCert): UntrustedSignature => {
    const l = ss.signLegacy({ payload: PAYLOAD, identity: 'unused', cert, tlog: false });
    return {
      format: 'legacy',
      source: 'minted .sig layer',
      layerDigest: digestOf(PAYLOAD),
      layerMediaType: MT.cosignSimpleSigning,
      annotations: l.annotations,
      payload: PAYLOAD,
    };
  };
  const bundle = (cert: IssuedCert): UntrustedSignature => ({
    format: 'bundle',
    source: 'minted referrer',
    manifestDigest: digestOf(Buffer.from('referrer')),
    bundle: Buffer.from(ss.signBundle({ statement: STATEMENT, identity: 'unused', cert, tlog: false }).json),
  });
  const hosts = leaf([san(dns('build.example.com'), ip(10, 0, 0, 7))]);
  test('legacy: a DNS or an IP SAN may be the subject (cosign matches every SAN of a legacy layer)', () => {
    verified(verifySignature(legacy(hosts), want('build.example.com')), ['ci']);
    verified(verifySignature(legacy(hosts), want('10.0.0.7')), ['ci']);
  });

  test('bundle: DNS and IP SANs are no subject (sigstore-go reads URI, else email, else otherName)', () => {
    refused(
      verifySignature(bundle(hosts), want('build.example.com')),
      'wrong-identity',
      'the certificate is trusted but identity "ci": subject no usable subject does not match "build.example.com"',
    );
  });

  test('bundle: the otherName username when there is no URI or email; the URI first when there is', () => {
    const user = leaf([san(dns('build.example.com'), otherName(`${FULCIO}.7`, utf8String('octocat!github.com')))]);
    verified(verifySignature(bundle(user), want('octocat!github.com')), ['ci']);
    const both = leaf([san(email('ci@example.com'), uri('https://ci.example.com/job'))]);
    verified(verifySignature(bundle(both), want('https://ci.example.com/job')), ['ci']);
    refused(
      verifySignature(bundle(both), want('ci@example.com')),
      'wrong-identity',
      'the certificate is trusted but identity "ci": subject "https://ci.example.com/job" does not match "ci@example.com"',
    );
    verified(verifySignature(legacy(both), want('ci@example.com')), ['ci']);
  });

  test('an undecodable SAN in a trusted certificate -> untrusted-certificate, saying what is wrong', () => {
    const bad = leaf([san(email('ci@example.com'), ip(1, 2, 3))]);
    for (const sig of [legacy(bad), bundle(bad)]) {
      refused(
        verifySignature(sig, want('ci@example.com')),
        'untrusted-certificate',
        'ca "corp": the certificate cannot sign: its extensions cannot be decoded (an IP address SAN has 3 bytes)',
      );
    }
  });
});
