// Trust authorities as the config loader builds them (verify/authority.ts): a trusted_root.json and a private CA's PEM
// files, right and wrong. Every wrong file is a TRUST_INVALID error naming the authority and saying what to fix, on
// one line; a right one carries the counts check-config prints and a fingerprint of its source.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { isSigwardError } from '../../src/errors.ts';
import { certificates, parseTrustedRoot, privateCa } from '../../src/verify/authority.ts';
import { createTestCa, createTestSigstore, TRUSTED_ROOT_MEDIA_TYPE } from '../helpers/test-sigstore.ts';
import { pem } from '../helpers/test-sigstore-der.ts';

const NOW = new Date('2025-06-01T12:00:00Z');
const ss = createTestSigstore({ now: NOW });
const ca = createTestCa({ now: NOW });

/** `f` throws TRUST_INVALID with exactly `message` (one line). */
function invalid(f: () => unknown, message: string | RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(isSigwardError(e), String(e));
    assert.equal(e.code, 'TRUST_INVALID');
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

describe('parseTrustedRoot', () => {
  test('the test sigstore root: one CA, CT log, Rekor log and TSA; media type 0.2 accepted too', () => {
    const root = parseTrustedRoot('test', ss.trustedRootJson);
    assert.equal(root.kind, 'root');
    assert.equal(root.name, 'test');
    assert.deepEqual(root.counts, { cas: 1, ctlogs: 1, tlogs: 1, tsas: 1 });
    assert.match(root.fingerprint, /^[0-9a-f]{64}$/);
    assert.ok(Object.isFrozen(root));
    const v02 = JSON.stringify({
      ...JSON.parse(ss.trustedRootJson),
      mediaType: 'application/vnd.dev.sigstore.trustedroot.v0.2+json',
    });
    assert.deepEqual(parseTrustedRoot('test', v02).counts, root.counts);
    assert.notEqual(parseTrustedRoot('test', v02).fingerprint, root.fingerprint);
  });

  test('not JSON -> says so, with the parser message', () => {
    invalid(
      () => parseTrustedRoot('prod', '{"mediaType":'),
      /^trust authority "prod": is not JSON \(.+\); expected a trusted_root\.json$/,
    );
  });

  test('JSON but not an object (a list, null, a string) -> is not a JSON object', () => {
    for (const text of ['[]', 'null', '"application/vnd.dev.sigstore.trustedroot+json;version=0.1"']) {
      invalid(
        () => parseTrustedRoot('prod', text),
        'trust authority "prod": is not a JSON object; expected a trusted_root.json',
      );
    }
  });

  test('a media type that is not a trusted root (or none, or not a string)', () => {
    const why = (got: string): string =>
      `trust authority "prod": has media type ${got}, expected application/vnd.dev.sigstore.trustedroot+json;version=0.1 ` +
      '(or .v0.2+json): is this a trusted_root.json (not a TUF root.json or a signing config)?';
    invalid(() => parseTrustedRoot('prod', '{}'), why('undefined'));
    invalid(() => parseTrustedRoot('prod', '{"mediaType":3}'), why('3'));
    invalid(
      () => parseTrustedRoot('prod', '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.3"}'),
      why('"application/vnd.dev.sigstore.trustedroot+json;version=0.3"'),
    );
  });

  test('a certificate authority whose certificate is not DER -> cannot be read, with the reason', () => {
    const text = JSON.stringify({
      mediaType: TRUSTED_ROOT_MEDIA_TYPE,
      certificateAuthorities: [
        { certChain: { certificates: [{ rawBytes: Buffer.from('not DER').toString('base64') }] }, validFor: {} },
      ],
    });
    invalid(() => parseTrustedRoot('prod', text), /^trust authority "prod": cannot be read: .+/);
  });

  test('a log whose public key is not a key -> cannot be read', () => {
    const root = JSON.parse(ss.trustedRootJson);
    root.tlogs[0].publicKey.rawBytes = Buffer.from('not a key').toString('base64');
    invalid(() => parseTrustedRoot('prod', JSON.stringify(root)), /^trust authority "prod": cannot be read: .+/);
  });

  test('neither CAs nor logs (only a TSA, or nothing) -> it can verify nothing', () => {
    const why =
      'trust authority "prod": has neither certificate authorities nor transparency logs: it can verify nothing';
    invalid(() => parseTrustedRoot('prod', JSON.stringify({ mediaType: TRUSTED_ROOT_MEDIA_TYPE })), why);
    const root = JSON.parse(ss.trustedRootJson);
    invalid(
      () =>
        parseTrustedRoot(
          'prod',
          JSON.stringify({ mediaType: TRUSTED_ROOT_MEDIA_TYPE, timestampAuthorities: root.timestampAuthorities }),
        ),
      why,
    );
  });

  test('logs without CAs is a root for key signatures that must be logged', () => {
    const root = JSON.parse(ss.trustedRootJson);
    const logsOnly = parseTrustedRoot(
      'logs',
      JSON.stringify({ mediaType: TRUSTED_ROOT_MEDIA_TYPE, tlogs: root.tlogs }),
    );
    assert.deepEqual(logsOnly.counts, { cas: 0, ctlogs: 0, tlogs: 1, tsas: 0 });
  });
});

describe('privateCa', () => {
  test('root and intermediate: one CA; the fingerprint follows the intermediates too', () => {
    const a = privateCa('corp', ca.rootsPem, ca.intermediatesPem);
    assert.equal(a.kind, 'ca');
    assert.deepEqual(a.counts, { cas: 1, ctlogs: 0, tlogs: 0, tsas: 0 });
    assert.notEqual(privateCa('corp', ca.rootsPem).fingerprint, a.fingerprint);
    // Two roots in one file: two CAs counted; CRLF line ends and blank space around blocks are fine.
    const two = createTestCa({ now: NOW });
    assert.equal(privateCa('corp', `${ca.rootsPem}\r\n\n${two.rootsPem.replaceAll('\n', '\r\n')}`).counts.cas, 2);
  });

  test('no CERTIFICATE block in the roots file (empty, text, base64 without armour)', () => {
    for (const text of ['', 'roots go here\n', ca.root.der.toString('base64')]) {
      invalid(
        () => privateCa('corp', text),
        'trust authority "corp": roots: no CERTIFICATE block found; give the PEM root certificate(s)',
      );
    }
  });

  test('another kind of PEM block (a public key, a private key) in roots or intermediates', () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pub = key.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const priv = key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    invalid(
      () => privateCa('corp', ca.rootsPem + pub),
      'trust authority "corp": roots: found a "PUBLIC KEY" PEM block; only CERTIFICATE blocks belong here',
    );
    invalid(
      () => privateCa('corp', ca.rootsPem, priv + ca.intermediatesPem),
      'trust authority "corp": intermediates: found a "PRIVATE KEY" PEM block; only CERTIFICATE blocks belong here',
    );
  });

  test('a CERTIFICATE block whose bytes are no certificate -> which one, and why', () => {
    invalid(
      () => privateCa('corp', ca.rootsPem + pem(Buffer.from('not a certificate'))),
      /^trust authority "corp": roots: certificate 2 is not a valid X\.509 certificate \(.+\)$/,
    );
    invalid(
      () => privateCa('corp', ca.rootsPem, pem(Buffer.from('junk'))),
      /^trust authority "corp": intermediates: certificate 1 is not a valid X\.509 certificate \(.+\)$/,
    );
  });

  test('a CERTIFICATE block with characters base64 does not have, or no END line -> malformed', () => {
    const broken = `-----BEGIN CERTIFICATE-----\n${ca.root.der.toString('base64').slice(0, 40)}!!\n-----END CERTIFICATE-----\n`;
    invalid(() => privateCa('corp', broken), 'trust authority "corp": roots: a CERTIFICATE block is malformed');
    const unterminated = ca.rootsPem.replace('-----END CERTIFICATE-----', '');
    invalid(() => privateCa('corp', unterminated), 'trust authority "corp": roots: a CERTIFICATE block is malformed');
    invalid(
      () => privateCa('corp', ca.rootsPem, `${ca.intermediatesPem}${broken}`),
      'trust authority "corp": intermediates: a CERTIFICATE block is malformed',
    );
  });

  test('a root that is not a CA, or not self-signed; an intermediate that is not a CA', () => {
    const leaf = ca.issue({ subject: 'ci@example.com' });
    invalid(
      () => privateCa('corp', leaf.certPem),
      'trust authority "corp": roots: certificate 1 (CN=ci@example.com) is not a CA',
    );
    invalid(
      () => privateCa('corp', ca.intermediatesPem),
      'trust authority "corp": roots: certificate 1 (O=sigward.test, CN=test-private-ca-intermediate) is not self-signed',
    );
    invalid(
      () => privateCa('corp', ca.rootsPem, ca.intermediatesPem + leaf.certPem),
      'trust authority "corp": intermediates: certificate 2 (CN=ci@example.com) is not a CA',
    );
  });

  test('a certificate with an empty subject (a Fulcio leaf) is named as such', () => {
    invalid(
      () => privateCa('corp', ss.issue('me@example.com').certPem),
      'trust authority "corp": roots: certificate 1 (empty subject) is not a CA',
    );
  });
});

describe('certificates: the CERTIFICATE blocks of a PEM text', () => {
  test('every block in order, whitespace inside the body ignored', () => {
    const spaced = ca.rootsPem.replace(/\n(?!-----)/g, '\n \t');
    assert.deepEqual(
      certificates('corp', 'roots', ca.intermediatesPem + spaced).map((d) => Buffer.from(d)),
      [ca.intermediate.der, ca.root.der],
    );
    assert.deepEqual(certificates('corp', 'roots', ''), []);
  });
});
