// src/verify/der-cache.ts answers toDER() from the parsed bytes for unchanged ASN.1 trees. It must give exactly what
// @sigstore/core's own re-encoding gives, for every node of real certificates, and re-encode once a tree changed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type ASN1Obj, ByteStream, X509Certificate } from '@sigstore/core';
import { copyTree, reencodedDer } from '../../src/verify/der-cache.ts';
import '../../src/verify/trusted-certificates.ts';
import { createTestSigstore } from '../helpers/test-sigstore.ts';

const fx = (p: string): string => readFileSync(new URL(`../fixtures/${p}`, import.meta.url), 'utf8');

function* nodes(o: ASN1Obj): Generator<ASN1Obj> {
  yield o;
  for (const s of o.subs) yield* nodes(s);
}

const pems: [string, string][] = [
  [
    'keyless legacy leaf (2023 public-good)',
    (JSON.parse(fx('cimage-cosign-fulcio-rekor/layer-annotations.json')) as Record<string, string>)[
      'dev.sigstore.cosign/certificate'
    ] ?? '',
  ],
  ['private-CA RSA leaf', fx('cimage-cosign-pki/certificate.pem')],
  ['test sigstore leaf', createTestSigstore().issue('a@b.c').certPem],
];

describe('DER from parsed bytes', () => {
  for (const [name, pem] of pems) {
    test(`${name}: every node encodes as the library re-encodes it`, () => {
      const cert = X509Certificate.parse(pem);
      let n = 0;
      for (const o of nodes(cert.root)) {
        assert.deepEqual(o.toDER(), reencodedDer(o));
        n++;
      }
      assert.ok(n > 50, `walked ${n} nodes`);
      const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
      assert.deepEqual(cert.root.toDER(), der, 'the certificate encodes to its own bytes');
    });
  }

  test('a changed tree is re-encoded: removing an extension (what the SCT check does to a clone)', () => {
    const cert = X509Certificate.parse(pems[2]![1]);
    const before = cert.tbsCertificate.toDER();
    const exts = cert.extensions;
    const removed = exts.splice(exts.length - 1, 1);
    assert.equal(removed.length, 1);
    const after = cert.tbsCertificate.toDER();
    assert.notDeepEqual(after, before);
    assert.deepEqual(after, reencodedDer(cert.tbsCertificate));
    assert.ok(after.length < before.length);
  });

  test('a replaced value is re-encoded (the field is readonly in the types, but JavaScript can assign it)', () => {
    const cert = X509Certificate.parse(pems[0]![1]);
    const serial = cert.tbsCertificate.subs[1]!;
    (serial as { value: Buffer }).value = Buffer.from([0x01]);
    assert.deepEqual(cert.tbsCertificate.toDER(), reencodedDer(cert.tbsCertificate));
    assert.deepEqual(serial.toDER(), Buffer.from([0x02, 0x01, 0x01]));
  });
});

describe('copies, OIDs and errors of parsed trees', () => {
  test('a copy encodes as the original; changing the copy (the SCT check removes an extension) leaves the original', () => {
    const cert = X509Certificate.parse(pems[2]![1]);
    const der = cert.root.toDER();
    const tbs = cert.tbsCertificate.toDER();
    const copy = new X509Certificate(copyTree(cert.root));
    assert.notEqual(copy.root, cert.root);
    assert.deepEqual(copy.root.toDER(), der);
    const [removed] = copy.extensions.splice(copy.extensions.length - 1, 1);
    assert.equal(removed?.subs[0]?.toOID(), '1.3.6.1.4.1.11129.2.4.2', 'the last extension is the SCT list');
    assert.deepEqual(copy.tbsCertificate.toDER(), reencodedDer(copy.tbsCertificate));
    assert.ok(copy.tbsCertificate.toDER().length < tbs.length);
    assert.deepEqual(cert.tbsCertificate.toDER(), tbs, 'the original is unchanged');
    assert.deepEqual(cert.root.toDER(), der);
    assert.equal(cert.extensions.length, copy.extensions.length + 1);
  });

  test('clone() (what @sigstore/verify calls) is such a copy', () => {
    const cert = X509Certificate.parse(pems[0]![1]);
    const clone = cert.clone();
    assert.deepEqual(clone.root.toDER(), cert.root.toDER());
    clone.extensions.splice(0, clone.extensions.length);
    assert.ok(cert.extensions.length > 5);
  });

  test('an OID is read again when its bytes or tag are replaced', () => {
    const cert = X509Certificate.parse(pems[0]![1]);
    const oid = cert.extensions[0]!.subs[0]!;
    const first = oid.toOID();
    assert.equal(oid.toOID(), first);
    (oid as { value: Buffer }).value = Buffer.from([0x55, 0x1d, 0x0f]); // 2.5.29.15
    assert.equal(oid.toOID(), '2.5.29.15');
    const serial = cert.tbsCertificate.subs[1]!;
    assert.throws(() => serial.toOID(), /not an OID/);
    (oid as { tag: ASN1Obj['tag'] }).tag = serial.tag;
    assert.throws(() => oid.toOID(), /not an OID/, 'an INTEGER is no OID, whatever was read from it before');
  });

  test('bytes are read one by one up to the end of the stream, then the read fails as the library says', () => {
    const s = new ByteStream(Buffer.from([0x30, 0x81]));
    assert.equal(s.getUint8(), 0x30);
    assert.equal(s.getUint8(), 0x81);
    assert.equal(s.position, 2);
    assert.throws(() => s.getUint8(), /request past end of buffer/);
    assert.equal(s.position, 2);
    assert.throws(() => X509Certificate.parse(Buffer.from([0x30, 0x82, 0x01])), /past end|length/);
  });

  test('a certificate that cannot be parsed still throws, and stack traces are back on afterwards', () => {
    const der = Buffer.from(pems[0]![1].replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const limit = Error.stackTraceLimit;
    assert.throws(() => X509Certificate.parse(der.subarray(0, der.length - 5)));
    assert.throws(() => X509Certificate.parse(Buffer.concat([der, Buffer.from([0])])), /trailing data/);
    assert.equal(Error.stackTraceLimit, limit);
    assert.ok((new Error('x').stack ?? '').includes('\n    at '));
  });
});
