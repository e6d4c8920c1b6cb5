// Every tampered variant fails: one-field mutators over a good legacy signature and a good bundle, each of which
// must turn a verified check into a rejection with the expected reason; plus exhaustive byte/char flips of a real one.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { digestOf } from '../../src/oci/digest.ts';
import { parsePublicKey, verifySignature } from '../../src/verify/index.ts';
import type { RejectReason, UntrustedBundle, UntrustedLegacySignature, VerifyContext } from '../../src/verify/types.ts';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { buildLegacySignatureImage, untrustedLayers } from '../../src/sign/legacy-image.ts';
import { buildDsseBundle, cosignSignStatement } from '../../src/sign/bundle.ts';
import { publicKeyPem, signBytes, toBase64 } from '../../src/sign/signer.ts';

// Parsed JSON of the builders under test: members are read (and mutated) by name, as the format defines them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type LooseJson = Record<string, any>;

const SIG = 'dev.cosignproject.cosign/signature';
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const trusted = parsePublicKey('release', publicKeyPem(privateKey));
const IMAGE = digestOf(Buffer.from('{"schemaVersion":2}'));
const ctx: VerifyContext = { digest: IMAGE, keys: [trusted] };

/** A legacy layer over `payload`, correctly signed by the trusted key (so only the payload rules can fail it). */
function signedLayer(payload: Uint8Array): UntrustedLegacySignature {
  const image = buildLegacySignatureImage({ layers: [{ payload, signature: signBytes(privateKey, payload) }] });
  const [layer] = untrustedLayers(image, 'mutation test');
  assert.ok(layer);
  return layer;
}

const goodPayload = simpleSigningPayload({
  dockerReference: 'registry.test/app',
  digest: IMAGE,
  optional: { env: 'prod' },
});
const good = signedLayer(goodPayload);
const text = Buffer.from(goodPayload).toString('utf8');
const resign = (t: string): UntrustedLegacySignature => signedLayer(Buffer.from(t, 'utf8'));
const withSig = (s: string): UntrustedLegacySignature => ({ ...good, annotations: { ...good.annotations, [SIG]: s } });

describe('legacy one-field mutations', () => {
  test('the unmutated signature verifies', () => {
    const r = verifySignature(good, ctx);
    assert.equal(r.verified, true, r.message);
    assert.deepEqual(r.annotations, { env: 'prod' });
  });

  const b64 = good.annotations[SIG] ?? '';
  const mutations: [string, () => [UntrustedLegacySignature, VerifyContext], RejectReason][] = [
    [
      'layer media type changed',
      () => [{ ...good, layerMediaType: 'application/vnd.oci.image.layer.v1.tar' }, ctx],
      'malformed',
    ],
    [
      'layer media type is DSSE (attestation)',
      () => [{ ...good, layerMediaType: 'application/vnd.dsse.envelope.v1+json' }, ctx],
      'malformed',
    ],
    ['layer digest of other bytes', () => [{ ...good, layerDigest: digestOf(Buffer.from('x')) }, ctx], 'malformed'],
    ['layer digest not a digest', () => [{ ...good, layerDigest: 'sha256:xyz' }, ctx], 'malformed'],
    ['signature annotation removed', () => [{ ...good, annotations: {} }, ctx], 'malformed'],
    ['signature annotation empty', () => [withSig(''), ctx], 'malformed'],
    ['signature base64 with a space', () => [withSig(`${b64.slice(0, 8)} ${b64.slice(8)}`), ctx], 'malformed'],
    [
      'signature base64 URL alphabet',
      () => [withSig(b64.replace(/\+/g, '-').replace(/\//g, '_') + (/[+/]/.test(b64) ? '' : '-')), ctx],
      'malformed',
    ],
    [
      'signature base64 without padding',
      () => [withSig(toBase64(new Uint8Array([1, 2, 3, 4])).replace(/=+$/, '')), ctx],
      'malformed',
    ],
    [
      'signature base64 with data after padding',
      () => [withSig(`${toBase64(new Uint8Array([1]))}AAAA`), ctx],
      'malformed',
    ],
    [
      'signature truncated by one byte',
      () => [withSig(toBase64(Buffer.from(b64, 'base64').subarray(1))), ctx],
      'unknown-key',
    ],
    [
      'signature with a byte appended',
      () => [withSig(toBase64(Buffer.concat([Buffer.from(b64, 'base64'), Buffer.from([0])]))), ctx],
      'unknown-key',
    ],
    [
      'signature of another payload',
      () => [withSig(toBase64(signBytes(privateKey, Buffer.from('other')))), ctx],
      'unknown-key',
    ],
    [
      'payload byte changed (digest recomputed by the fetcher)',
      () => {
        const p = Buffer.from(goodPayload);
        p[p.indexOf('prod')] = 'P'.charCodeAt(0);
        return [{ ...good, payload: p, layerDigest: digestOf(p) }, ctx];
      },
      'unknown-key',
    ],
    [
      'payload with a trailing newline',
      () => {
        const p = Buffer.concat([Buffer.from(goodPayload), Buffer.from('\n')]);
        return [{ ...good, payload: p, layerDigest: digestOf(p) }, ctx];
      },
      'unknown-key',
    ],
    [
      'trusted key list without the signer',
      () => [
        good,
        {
          digest: IMAGE,
          keys: [parsePublicKey('other', publicKeyPem(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey))],
        },
      ],
      'unknown-key',
    ],
    [
      'served digest differs',
      () => [good, { ...ctx, digest: digestOf(Buffer.from('another manifest')) }],
      'digest-mismatch',
    ],
    [
      're-signed: claims another digest',
      () => [resign(text.replace(IMAGE, digestOf(Buffer.from('x')))), ctx],
      'digest-mismatch',
    ],
    [
      're-signed: duplicate docker-manifest-digest',
      () => [
        resign(
          text.replace(
            `"docker-manifest-digest":"${IMAGE}"`,
            `"docker-manifest-digest":"${digestOf(Buffer.from('x'))}","docker-manifest-digest":"${IMAGE}"`,
          ),
        ),
        ctx,
      ],
      'payload-invalid',
    ],
    [
      're-signed: Docker-Manifest-Digest capitalised',
      () => [resign(text.replace('docker-manifest-digest', 'Docker-Manifest-Digest')), ctx],
      'payload-invalid',
    ],
    [
      're-signed: critical.type changed',
      () => [resign(text.replace('cosign container image signature', 'cosign container image signature ')), ctx],
      'payload-invalid',
    ],
    [
      're-signed: unknown member in critical',
      () => [resign(text.replace('"type"', '"x":1,"type"')), ctx],
      'payload-invalid',
    ],
    [
      're-signed: optional is a string',
      () => [resign(text.replace('{"env":"prod"}', '"prod"')), ctx],
      'payload-invalid',
    ],
    [
      're-signed: invalid UTF-8',
      () => [
        signedLayer(
          Buffer.concat([
            Buffer.from(goodPayload).subarray(0, 10),
            Buffer.from([0xff]),
            Buffer.from(goodPayload).subarray(10),
          ]),
        ),
        ctx,
      ],
      'payload-invalid',
    ],
    ['re-signed: not JSON at all', () => [resign('hello'), ctx], 'payload-invalid'],
  ];
  for (const [name, mutate, reason] of mutations) {
    test(`${name} -> ${reason}`, () => {
      const [sig, c] = mutate();
      const r = verifySignature(sig, c);
      assert.equal(r.verified, false, name);
      assert.equal(r.reason, reason, `${name}: ${r.message}`);
      assert.deepEqual(r.signers, []);
      assert.equal(r.annotations, undefined);
      assert.ok((r.message ?? '').length > 10, 'a reason a person can read');
    });
  }
});

describe('exhaustive flips of a real cosign signature (cimage-cosign-key-only)', () => {
  const dir = new URL('../fixtures/cimage-cosign-key-only/', import.meta.url);
  const payload = readFileSync(new URL('payload.json', dir));
  const annotations = JSON.parse(readFileSync(new URL('layer-annotations.json', dir), 'utf8')) as Record<
    string,
    string
  >;
  const key = parsePublicKey('cosign', readFileSync(new URL('cosign.pub', dir), 'utf8'));
  const digest = digestOf(readFileSync(new URL('image-manifest.json', dir)));
  const real: UntrustedLegacySignature = {
    format: 'legacy',
    source: 'real',
    layerDigest: digestOf(payload),
    layerMediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
    annotations,
    payload,
  };

  test('the real signature verifies before flipping', () => {
    assert.equal(verifySignature(real, { digest, keys: [key] }).verified, true);
  });

  test('every single-bit flip of every payload byte fails', () => {
    for (let i = 0; i < payload.length; i++) {
      const p = Buffer.from(payload);
      p[i] = (p[i] ?? 0) ^ 0x01;
      const r = verifySignature({ ...real, payload: p, layerDigest: digestOf(p) }, { digest, keys: [key] });
      assert.equal(r.verified, false, `byte ${i}`);
    }
  });

  test('every single-character change of the base64 signature fails', () => {
    const b64 = annotations[SIG] ?? '';
    for (let i = 0; i < b64.length; i++) {
      const c = b64[i] === 'A' ? 'B' : 'A';
      const r = verifySignature(
        { ...real, annotations: { [SIG]: b64.slice(0, i) + c + b64.slice(i + 1) } },
        { digest, keys: [key] },
      );
      assert.equal(r.verified, false, `char ${i}`);
    }
  });
});

describe('bundle one-field mutations', () => {
  const bundle = buildDsseBundle({ statement: cosignSignStatement({ digest: IMAGE }), privateKey });
  const json = (): LooseJson => JSON.parse(Buffer.from(bundle).toString('utf8')) as LooseJson;
  const as = (b: unknown): UntrustedBundle => ({
    format: 'bundle',
    source: 'referrer',
    manifestDigest: IMAGE,
    bundle: Buffer.from(typeof b === 'string' ? b : JSON.stringify(b)),
  });
  const resigned = (statement: string): UntrustedBundle =>
    as(Buffer.from(buildDsseBundle({ statement: Buffer.from(statement), privateKey })).toString('utf8'));
  const statement = Buffer.from(cosignSignStatement({ digest: IMAGE })).toString('utf8');

  test('the unmutated bundle verifies', () => {
    assert.equal(verifySignature(as(json()), ctx).verified, true);
  });

  const mutations: [string, () => UntrustedBundle, RejectReason][] = [
    ['not JSON', () => as('not json'), 'malformed'],
    [
      'duplicate mediaType',
      () => as(Buffer.from(bundle).toString('utf8').replace('{"mediaType"', '{"mediaType":"x","mediaType"')),
      'malformed',
    ],
    ['unknown top-level member', () => as({ ...json(), extra: 1 }), 'malformed'],
    [
      'mediaType v0.4',
      () => as({ ...json(), mediaType: 'application/vnd.dev.sigstore.bundle.v0.4+json' }),
      'unsupported',
    ],
    [
      'messageSignature instead of dsseEnvelope',
      () => {
        const b = json();
        delete b.dsseEnvelope;
        b.messageSignature = { signature: 'AA==' };
        return as(b);
      },
      'malformed',
    ],
    ['both messageSignature and dsseEnvelope', () => as({ ...json(), messageSignature: {} }), 'malformed'],
    [
      'payloadType changed',
      () => {
        const b = json();
        b.dsseEnvelope.payloadType = 'application/json';
        return as(b);
      },
      'malformed',
    ],
    [
      'two signatures',
      () => {
        const b = json();
        b.dsseEnvelope.signatures.push(b.dsseEnvelope.signatures[0]);
        return as(b);
      },
      'malformed',
    ],
    [
      'no signatures',
      () => {
        const b = json();
        b.dsseEnvelope.signatures = [];
        return as(b);
      },
      'malformed',
    ],
    [
      'payload not base64',
      () => {
        const b = json();
        b.dsseEnvelope.payload = '***';
        return as(b);
      },
      'malformed',
    ],
    [
      'certificate instead of publicKey',
      () => {
        const b = json();
        b.verificationMaterial = { certificate: { rawBytes: 'AA==' } };
        return as(b);
      },
      'unknown-key',
    ],
    [
      'x509CertificateChain instead of publicKey',
      () => {
        const b = json();
        b.verificationMaterial = { x509CertificateChain: { certificates: [] } };
        return as(b);
      },
      'unknown-key',
    ],
    [
      'publicKey and certificate both',
      () => {
        const b = json();
        b.verificationMaterial.certificate = { rawBytes: 'AA==' };
        return as(b);
      },
      'malformed',
    ],
    [
      'statement swapped for one about another image',
      () => {
        const b = json();
        b.dsseEnvelope.payload = toBase64(cosignSignStatement({ digest: digestOf(Buffer.from('x')) }));
        return as(b);
      },
      'bad-signature',
    ],
    [
      'signature of another statement',
      () => {
        const b = json();
        b.dsseEnvelope.signatures[0].sig = JSON.parse(
          Buffer.from(buildDsseBundle({ statement: Buffer.from('{}'), privateKey })).toString(),
        ).dsseEnvelope.signatures[0].sig;
        return as(b);
      },
      'bad-signature',
    ],
    [
      're-signed: statement has duplicate predicateType',
      () =>
        resigned(
          statement.replace('"predicateType"', '"predicateType":"https://sigstore.dev/cosign/sign/v1","predicateType"'),
        ),
      'payload-invalid',
    ],
    [
      're-signed: unknown _type',
      () => resigned(statement.replace('https://in-toto.io/Statement/v1', 'https://in-toto.io/Statement/v2')),
      'payload-invalid',
    ],
    ['re-signed: no subject', () => resigned(statement.replace(/"subject":\[\{.*?\}\],/, '')), 'payload-invalid'],
    [
      're-signed: subject digest is a number',
      () => resigned(statement.replace(/"sha256":"[0-9a-f]+"/, '"sha256":1')),
      'payload-invalid',
    ],
    [
      're-signed: subject for another digest',
      () => resigned(statement.replace(IMAGE.slice(7), 'ab'.repeat(32))),
      'digest-mismatch',
    ],
    [
      're-signed: predicate type of an SBOM',
      () => resigned(statement.replace('https://sigstore.dev/cosign/sign/v1', 'https://cyclonedx.org/bom')),
      'wrong-predicate',
    ],
  ];
  for (const [name, mutate, reason] of mutations) {
    test(`${name} -> ${reason}`, () => {
      const r = verifySignature(mutate(), ctx);
      assert.equal(r.verified, false, name);
      assert.equal(r.reason, reason, `${name}: ${r.message}`);
      assert.deepEqual(r.signers, []);
    });
  }
});
