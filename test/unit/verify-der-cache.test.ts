// src/verify/der-cache.ts answers toDER() from the parsed bytes for unchanged ASN.1 trees. It must give exactly what
// @sigstore/core's own re-encoding gives, for every node of real certificates, and re-encode once a tree changed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type ASN1Obj, X509Certificate } from '@sigstore/core';
import { reencodedDer } from '../../src/verify/der-cache.ts';
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
