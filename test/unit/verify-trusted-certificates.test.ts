// src/verify/trusted-certificates.ts remembers, for certificates of trust material only, what does not depend on the
// signature being checked: their DER, key, fields the chain builder reads, and the outcome of verifying one trusted
// certificate by another. A certificate a signature brings is read and verified afresh on every check, and dates are
// compared on every call.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from '@sigstore/core';
import { rememberTrusted } from '../../src/verify/trusted-certificates.ts';
import { createTestSigstore } from '../helpers/test-sigstore.ts';

const NOW = new Date('2025-06-01T12:00:00Z');
const ss = createTestSigstore({ now: NOW });
const parse = (der: Uint8Array): X509Certificate => X509Certificate.parse(Buffer.from(der));

describe('trusted certificates', () => {
  test('validity is compared with the given time on every call, trusted or not', () => {
    const ca = parse(ss.fulcio.intermediate.der);
    rememberTrusted([ca]);
    const { notBefore, notAfter } = ca;
    assert.equal(ca.notBefore, notBefore, 'a trusted certificate answers its parsed dates again');
    assert.equal(ca.validForDate(new Date(notBefore.getTime() - 1000)), false);
    assert.equal(ca.validForDate(NOW), true);
    assert.equal(ca.validForDate(new Date(notAfter.getTime() + 1000)), false);
  });

  test('a certificate that is not trust material is read afresh: a change to it is seen', () => {
    const leaf = parse(ss.issue('a@b.c').certDer);
    const before = leaf.notAfter;
    assert.notEqual(leaf.notAfter, before, 'a new Date per read');
    const validity = leaf.tbsCertificate.subs[4]!;
    validity.subs.reverse();
    assert.deepEqual(leaf.notAfter, validity.subs[1]!.toDate());
    assert.notDeepEqual(leaf.notAfter, before);
  });

  test('the intermediate-by-root outcome is remembered, a leaf by the intermediate is verified every time', () => {
    const intermediate = parse(ss.fulcio.intermediate.der);
    const root = parse(ss.fulcio.root.der);
    rememberTrusted([intermediate, root]);
    assert.equal(intermediate.verify(root), true);
    assert.equal(root.verify(), true);
    assert.equal(root.verify(intermediate), false, 'the root is not issued by the intermediate');

    const leaf = parse(ss.issue('a@b.c').certDer);
    assert.equal(leaf.verify(intermediate), true);
    const sig = leaf.root.subs[2]!;
    const tampered = Buffer.from(sig.value);
    tampered[tampered.length - 1]! ^= 0x01;
    (sig as { value: Buffer }).value = tampered;
    assert.equal(leaf.verify(intermediate), false, 'a leaf whose signature changed no longer verifies');
    const foreign = parse(createTestSigstore({ now: NOW }).issue('a@b.c').certDer);
    assert.equal(foreign.verify(intermediate), false);
  });
});
