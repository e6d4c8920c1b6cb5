// verifyArtifactBundle: Sigstore bundles over a file (what `sigward verify-bundle` checks), pure. Message signatures
// (cosign sign-blob) minted by the test sigstore, keyless and with a key: verified over the artifact's bytes, the
// stated digest must be the artifact's, the key hint only chooses the reason, a key signature under tlog: required
// counts only when logged; DSSE statements go through the daemon's bundle path with any predicate, or the one asked
// for. Every malformed messageSignature is refused with what is wrong.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { digestOf } from '../../src/oci/digest.ts';
import { cosignSignStatement } from '../../src/sign/bundle.ts';
import { verifyArtifactBundle, type ArtifactContext } from '../../src/verify/artifact-bundle.ts';
import { parseTrustedRoot } from '../../src/verify/authority.ts';
import { parseBundle, parsePublicKey, verifySignature } from '../../src/verify/index.ts';
import type { SignatureCheck, TrustedIdentity, UntrustedBundle } from '../../src/verify/types.ts';
import { newKey } from '../helpers/cosign.ts';
import { createTestSigstore } from '../helpers/test-sigstore.ts';
import { signBlobBundle } from '../helpers/test-sigstore-blob.ts';
import { refused, verified } from '../helpers/verdicts.ts';

const NOW = new Date('2025-06-01T12:00:00Z');
const ss = createTestSigstore({ now: NOW });
const ROOT = parseTrustedRoot('test', ss.trustedRootJson);
const DEV: TrustedIdentity = {
  name: 'dev',
  authority: ROOT,
  subject: { exact: 'dev@example.com' },
  issuer: { exact: 'https://accounts.google.com' },
  github: {},
};
const alice = newKey('alice');
const ALICE = parsePublicKey('alice', alice.publicPem);
const MALLORY = parsePublicKey('mallory', newKey('mallory').publicPem);
const ARTIFACT = Buffer.from('#!/bin/sh\necho installed\n');
const DIGEST = digestOf(ARTIFACT);

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- a bundle's JSON tree

const asBundle = (json: string | Json): UntrustedBundle => {
  const bytes = Buffer.from(typeof json === 'string' ? json : JSON.stringify(json));
  return { format: 'bundle', source: 'file.sigstore.json', manifestDigest: digestOf(bytes), bundle: bytes };
};
const check = (json: string | Json, ctx: Partial<ArtifactContext> = {}): SignatureCheck =>
  verifyArtifactBundle(asBundle(json), { digest: DIGEST, keys: [], artifact: ARTIFACT, ...ctx });
const keyless = signBlobBundle(ss, { artifact: ARTIFACT, identity: 'dev@example.com' });
const keyed = signBlobBundle(ss, { artifact: ARTIFACT, privateKey: alice.privateKey });
const edit = (json: string, f: (b: Json) => void): Json => {
  const b = JSON.parse(json) as Json;
  f(b);
  return b;
};
const changed = Buffer.from(ARTIFACT);
changed.writeUInt8(changed.readUInt8(3) ^ 1, 3);

describe('message signatures (cosign sign-blob)', () => {
  test('keyless: verified over the artifact with the identity; every piece of material checked', () => {
    const r = check(keyless.json, { identities: [DEV] });
    verified(r, ['dev']);
    assert.equal(r.notEvaluated, undefined);
    assert.equal(r.certificateSigner, JSON.stringify(['https://accounts.google.com', ['email:dev@example.com']]));
  });

  test('keyless: another identity is wrong-identity; no identity at all names what is missing', () => {
    const eve = { ...DEV, subject: { exact: 'eve@example.com' } };
    assert.equal(check(keyless.json, { identities: [eve] }).reason, 'wrong-identity');
    assert.equal(check(keyless.json, { keys: [ALICE] }).reason, 'unknown-key');
  });

  test('a changed artifact: its digest is not the one the bundle states', () => {
    refused(
      check(keyless.json, { identities: [DEV], artifact: changed, digest: digestOf(changed) }),
      'digest-mismatch',
      `signed for an artifact whose sha256 is ${DIGEST.slice(7)}, but this artifact's is ${digestOf(changed).slice(7)}`,
    );
  });

  test('the digest given must be the artifact’s own', () => {
    const other = digestOf(Buffer.from('x'));
    refused(
      check(keyed.json, { keys: [ALICE], digest: other }),
      'digest-mismatch',
      `the artifact is ${DIGEST}, not ${other}`,
    );
  });

  test('a stated digest forged to match a changed artifact: the signature over its bytes refuses it', () => {
    const forged = edit(keyed.json, (b) => {
      b.messageSignature.messageDigest.digest = createHash('sha256').update(changed).digest('base64');
    });
    refused(
      check(forged, { keys: [ALICE], artifact: changed, digest: digestOf(changed) }),
      'bad-signature',
      'the signature does not verify over the artifact with key "alice", which the bundle names: the artifact or signature was altered',
    );
    const r = check(
      edit(keyless.json, (b) => {
        b.messageSignature.messageDigest.digest = createHash('sha256').update(changed).digest('base64');
      }),
      { identities: [DEV], artifact: changed, digest: digestOf(changed) },
    );
    assert.equal(r.verified, false);
    assert.ok(r.reason === 'bad-signature' || r.reason === 'tlog-invalid', `${r.reason ?? ''}: ${r.message ?? ''}`);
  });

  test('key-signed: any trusted key that verifies; an untrusted one is unknown-key; the log is not evaluated without tlog', () => {
    const r = check(keyed.json, { keys: [MALLORY, ALICE] });
    verified(r, ['alice']);
    assert.deepEqual(r.notEvaluated, ['tlog-entries']);
    refused(
      check(keyed.json, { keys: [MALLORY] }),
      'unknown-key',
      'signed by a key that is not trusted here: none of "mallory" verifies it',
    );
  });

  test('key-signed under tlog: required: counted when logged in the root’s Rekor, refused when not', () => {
    const r = check(keyed.json, { keys: [ALICE], keyTlog: ROOT });
    verified(r, ['alice']);
    assert.equal(r.notEvaluated, undefined);
    const unlogged = signBlobBundle(ss, { artifact: ARTIFACT, privateKey: alice.privateKey, tlog: false });
    refused(
      check(unlogged.json, { keys: [ALICE], keyTlog: ROOT }),
      'tlog-invalid',
      'the policy requires a transparency-log entry (tlog: required) and the signature by key "alice" has none',
    );
  });

  test('without a stated digest the signature over the bytes decides', () => {
    const bare = edit(keyed.json, (b) => delete b.messageSignature.messageDigest);
    verified(check(bare, { keys: [ALICE] }), ['alice']);
  });

  test('a stated SHA2_384 digest is compared as SHA-384; an unknown algorithm is malformed', () => {
    const sha384 = edit(keyed.json, (b) => {
      b.messageSignature.messageDigest = {
        algorithm: 'SHA2_384',
        digest: createHash('sha384').update(ARTIFACT).digest('base64'),
      };
    });
    verified(check(sha384, { keys: [ALICE] }), ['alice']);
    const md5 = edit(keyed.json, (b) => (b.messageSignature.messageDigest.algorithm = 'MD5'));
    refused(check(md5, { keys: [ALICE] }), 'malformed', 'messageDigest algorithm MD5 is not supported');
  });

  test('no artifact: a message signature cannot be checked against a digest alone', () => {
    const r = verifyArtifactBundle(asBundle(keyed.json), { digest: DIGEST, keys: [ALICE] });
    assert.equal(r.reason, 'unsupported');
    assert.ok(r.message?.includes('checked against the artifact, not a digest alone'), r.message);
  });

  test('the daemon still refuses a message signature as an image signature', () => {
    const r = verifySignature(asBundle(keyed.json), { digest: DIGEST, keys: [ALICE] });
    assert.equal(r.reason, 'malformed');
    assert.ok(r.message?.includes('not a DSSE statement about an image'), r.message);
  });
});

describe('DSSE statements over an artifact', () => {
  const predicateType = 'https://slsa.dev/provenance/v1';
  const statement = cosignSignStatement({ digest: DIGEST, predicateType });
  const attestation = ss.signBundle({ statement, identity: 'dev@example.com' }).json;

  test('any predicate unless one is asked for; then it must be that one', () => {
    verified(check(attestation, { identities: [DEV] }), ['dev']);
    verified(check(attestation, { identities: [DEV], predicateType }), ['dev']);
    refused(
      check(attestation, { identities: [DEV], predicateType: 'https://spdx.dev/Document' }),
      'wrong-predicate',
      `statement predicateType is "${predicateType}", not "https://spdx.dev/Document"`,
    );
  });

  test('by digest alone (no artifact), its subject must be that digest', () => {
    verified(verifyArtifactBundle(asBundle(attestation), { digest: DIGEST, keys: [], identities: [DEV] }), ['dev']);
    const other = digestOf(Buffer.from('another file'));
    assert.equal(check(attestation, { identities: [DEV], digest: other }).reason, 'digest-mismatch');
  });
});

describe('malformed bundles', () => {
  const bad: [string, (b: Json) => void, string][] = [
    ['messageSignature not an object', (b) => (b.messageSignature = 'x'), 'bundle messageSignature is not an object'],
    ['an unknown member', (b) => (b.messageSignature.extra = 1), 'messageSignature has unknown member "extra"'],
    [
      'no signature',
      (b) => delete b.messageSignature.signature,
      'messageSignature.signature is missing or not a string',
    ],
    [
      'a signature that is not base64',
      (b) => (b.messageSignature.signature = 'a b'),
      'messageSignature.signature is not standard base64: character " " is not allowed',
    ],
    ['an empty signature', (b) => (b.messageSignature.signature = ''), 'messageSignature.signature is empty'],
    [
      'messageDigest not an object',
      (b) => (b.messageSignature.messageDigest = []),
      'messageSignature.messageDigest is not an object',
    ],
    [
      'an unknown messageDigest member',
      (b) => (b.messageSignature.messageDigest.x = 1),
      'messageSignature.messageDigest has unknown member "x"',
    ],
    [
      'an algorithm that is not a string',
      (b) => (b.messageSignature.messageDigest.algorithm = 1),
      'messageSignature.messageDigest.algorithm is not a string',
    ],
    [
      'no digest',
      (b) => delete b.messageSignature.messageDigest.digest,
      'messageSignature.messageDigest.digest is missing or not a string',
    ],
    [
      'a digest that is not base64',
      (b) => (b.messageSignature.messageDigest.digest = '-_'),
      'messageSignature.messageDigest.digest is not standard base64: character "-" is not allowed',
    ],
  ];
  for (const [what, f, message] of bad) {
    test(`${what}: malformed`, () => {
      const b = edit(keyed.json, f);
      const parsed = parseBundle(Buffer.from(JSON.stringify(b)));
      assert.equal(parsed.ok, false);
      refused(check(b, { keys: [ALICE] }), 'malformed', message);
    });
  }

  test('a newer bundle version is unsupported', () => {
    const b = edit(keyed.json, (x) => (x.mediaType = 'application/vnd.dev.sigstore.bundle.v0.4+json'));
    assert.equal(check(b, { keys: [ALICE] }).reason, 'unsupported');
  });

  test('an unspecified algorithm is read as SHA-256', () => {
    const b = edit(keyed.json, (x) => delete x.messageSignature.messageDigest.algorithm);
    verified(check(b, { keys: [ALICE] }), ['alice']);
  });
});
