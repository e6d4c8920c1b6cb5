// The test signer in src/sign reproduces real cosign bytes (payloads, .sig manifests and configs, the v3
// statement) and builds self-consistent new-format artifacts the verifier accepts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import { digestOf, type Digest } from '../../src/oci/digest.ts';
import { parseBundle, parsePublicKey, verifySignature } from '../../src/verify/index.ts';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { buildLegacySignatureImage, untrustedLayers, ZERO_TIME } from '../../src/sign/legacy-image.ts';
import {
  buildBundleReferrer,
  buildDsseBundle,
  buildReferrersTagIndex,
  cosignSignStatement,
  EMPTY_CONFIG,
} from '../../src/sign/bundle.ts';
import { keyHint, publicKeyPem, signBytes } from '../../src/sign/signer.ts';

// Parsed JSON of the builders under test: members are read (and mutated) by name, as the format defines them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type LooseJson = Record<string, any>;

const fx = (dir: string, name: string): Buffer => readFileSync(new URL(`../fixtures/${dir}/${name}`, import.meta.url));
const CONN = 'connaisseur-key-signatures';

describe('simpleSigningPayload', () => {
  test('reproduces the real cosign payloads byte for byte', () => {
    const cimage = simpleSigningPayload({
      dockerReference: '192.168.64.2:5000/cosign-signed-single-sample',
      digest: 'sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00',
    });
    assert.deepEqual(Buffer.from(cimage), fx('cimage-cosign-key-only', 'payload.json'));
    for (const [file, image] of [
      ['payload-d8ee807d.json', 'multi-cosigned-alice.json'],
      ['payload-7248e52a.json', 'multi-cosigned-alice-bob-charlie.json'],
    ] as const) {
      const p = simpleSigningPayload({
        dockerReference: 'index.docker.io/securesystemsengineering/testimage',
        digest: digestOf(fx(CONN, image)),
      });
      assert.deepEqual(Buffer.from(p), fx(CONN, file));
    }
  });

  test('reproduces the skopeo payload: optional map with sorted keys and an integer value', () => {
    const p = simpleSigningPayload({
      dockerReference: '192.168.64.2:5000/skopeo-signed:tag',
      digest: 'sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00',
      optional: { timestamp: 1657296609, creator: 'containers/image 5.21.2-dev' },
    });
    assert.deepEqual(Buffer.from(p), fx('cimage-cosign-key-only', 'skopeo-with-tag.payload.json'));
  });

  test("Go's encoding: HTML and control escapes, U+2028/9, map keys in byte order (not JS integer-key order)", () => {
    const p = Buffer.from(
      simpleSigningPayload({
        dockerReference: 'r/a',
        digest: 'sha256:x',
        optional: { b: '<a href="x">&</a>', '10': '\u2028\u2029', '9': '\b\f\n\r\t\u0001\u001f', a: 'é😀\\' },
      }),
    ).toString('utf8');
    assert.equal(
      p.slice(p.indexOf('"optional":')),
      '"optional":{"10":"\\u2028\\u2029","9":"\\b\\f\\n\\r\\t\\u0001\\u001f","a":"é😀\\\\","b":"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e"}}',
    );
    const parsed = JSON.parse(p) as { optional: Record<string, string> };
    assert.equal(parsed.optional['b'], '<a href="x">&</a>');
    assert.equal(parsed.optional['9'], '\b\f\n\r\t\u0001\u001f');
  });

  test('refuses values Go could not have written the same way', () => {
    assert.throws(
      () => simpleSigningPayload({ dockerReference: 'r', digest: 'd', optional: { x: 1.5 } }),
      /safe integer/,
    );
    assert.throws(() => simpleSigningPayload({ dockerReference: '\ud800', digest: 'd' }), /unpaired surrogate/);
  });
});

describe('buildLegacySignatureImage', () => {
  for (const [manifestFile, configFile] of [
    ['sig-manifest-071bf7a9.json', 'sig-config-a0b0cbfe.reconstructed.json'],
    ['sig-manifest-bfec161f-3sigs.json', 'sig-config-4f3f5413.reconstructed.json'],
  ] as const) {
    test(`reproduces ${manifestFile} (compacted) and its config blob byte for byte`, () => {
      const real = JSON.parse(fx(CONN, manifestFile).toString('utf8')) as {
        config: { digest: string; size: number };
        layers: { digest: string; annotations: Record<string, string> }[];
      };
      const image = buildLegacySignatureImage({
        layers: real.layers.map((l) => ({
          payload: fx(CONN, `payload-${l.digest.slice(7, 15)}.json`),
          signature: l.annotations['dev.cosignproject.cosign/signature'] ?? '',
        })),
      });
      // Config: equal to the reconstruction AND to the digest/size the real registry manifest records.
      assert.deepEqual(Buffer.from(image.config.bytes), fx(CONN, configFile));
      assert.equal(image.config.digest, real.config.digest);
      assert.equal(image.config.size, real.config.size);
      // Manifest: upstream stored it pretty-printed; re-compacting keeps member order, so bytes must match.
      assert.equal(Buffer.from(image.manifest).toString('utf8'), JSON.stringify(real));
      assert.equal(image.manifestDigest, digestOf(image.manifest));
    });
  }

  test('the built layers verify with the real keys (alice, bob, charlie)', () => {
    const real = JSON.parse(fx(CONN, 'sig-manifest-bfec161f-3sigs.json').toString('utf8')) as {
      layers: { annotations: Record<string, string> }[];
    };
    const payload = fx(CONN, 'payload-7248e52a.json');
    const image = buildLegacySignatureImage({
      layers: real.layers.map((l) => ({
        payload,
        signature: l.annotations['dev.cosignproject.cosign/signature'] ?? '',
      })),
    });
    const keys = ['alice', 'bob', 'charlie'].map((n) => parsePublicKey(n, fx(CONN, `${n}.pub`).toString('utf8')));
    const digest = digestOf(fx(CONN, 'multi-cosigned-alice-bob-charlie.json'));
    const signers = untrustedLayers(image, 'built').map((l) => verifySignature(l, { digest, keys }).signers);
    assert.deepEqual(signers, [['alice'], ['bob'], ['charlie']]);
  });

  test('Docker media types, creation time, extra annotations (sorted), raw signature bytes', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const payload = simpleSigningPayload({ dockerReference: 'r/a', digest: 'sha256:00' });
    const sig = signBytes(privateKey, payload);
    const image = buildLegacySignatureImage({
      dockerMediaTypes: true,
      created: '2024-05-01T10:00:00Z',
      layers: [
        {
          payload,
          signature: sig,
          annotations: { 'dev.sigstore.cosign/certificate': 'PEM\n', 'dev.sigstore.cosign/chain': '' },
        },
      ],
    });
    const m = JSON.parse(Buffer.from(image.manifest).toString('utf8')) as LooseJson;
    assert.equal(m['mediaType'], 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(m['config'].mediaType, 'application/vnd.docker.container.image.v1+json');
    assert.deepEqual(Object.keys(m['layers'][0].annotations), [
      'dev.cosignproject.cosign/signature',
      'dev.sigstore.cosign/certificate',
      'dev.sigstore.cosign/chain',
    ]);
    assert.equal(m['layers'][0].annotations['dev.cosignproject.cosign/signature'], Buffer.from(sig).toString('base64'));
    const config = JSON.parse(Buffer.from(image.config.bytes).toString('utf8')) as {
      created: string;
      history: { created: string }[];
    };
    assert.equal(config.created, '2024-05-01T10:00:00Z');
    assert.deepEqual(config.history, [{ created: ZERO_TIME }]);
    assert.throws(() => buildLegacySignatureImage({ layers: [], created: 'yesterday' }), /RFC 3339/);
  });
});

describe('new-format builders', () => {
  const REAL = JSON.parse(fx('cosign-v3-sign-bundle', 'bundle.sigstore.json').toString('utf8')) as {
    dsseEnvelope: { payload: string };
  };
  const image = 'sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172' as Digest;

  test('cosignSignStatement reproduces the real cosign v3 (< 3.0.5) statement; default adds "predicate":{}', () => {
    assert.deepEqual(
      Buffer.from(cosignSignStatement({ digest: image, emptyPredicate: false })),
      Buffer.from(REAL.dsseEnvelope.payload, 'base64'),
    );
    const v305 = JSON.parse(Buffer.from(cosignSignStatement({ digest: image })).toString('utf8')) as Record<
      string,
      unknown
    >;
    assert.deepEqual(Object.keys(v305), ['_type', 'subject', 'predicateType', 'predicate']);
    assert.deepEqual(v305['predicate'], {});
  });

  test('buildDsseBundle: v0.3, cosign key hint, protojson member order; parses and verifies', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const bytes = buildDsseBundle({ statement: cosignSignStatement({ digest: image }), privateKey });
    const b = JSON.parse(Buffer.from(bytes).toString('utf8')) as LooseJson;
    assert.deepEqual(Object.keys(b), ['mediaType', 'verificationMaterial', 'dsseEnvelope']);
    assert.deepEqual(Object.keys(b['dsseEnvelope']), ['payload', 'payloadType', 'signatures']);
    const spki = parsePublicKey('k', publicKeyPem(privateKey)).spkiDer;
    assert.equal(b['verificationMaterial'].publicKey.hint, createHash('sha256').update(spki).digest('base64'));
    assert.equal(keyHint(privateKey), b['verificationMaterial'].publicKey.hint);
    const parsed = parseBundle(bytes);
    assert.ok(parsed.ok && parsed.value.material.kind === 'publicKey' && parsed.value.tlogEntries === 0);
  });

  test('buildBundleReferrer: cosign WriteReferrer layout', () => {
    const bundle = Buffer.from('{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}');
    const subject = { mediaType: 'application/vnd.oci.image.index.v1+json', size: 1234, digest: image };
    const r = buildBundleReferrer({
      bundle,
      subject,
      created: '2026-04-09T07:23:30Z',
      predicateType: 'https://sigstore.dev/cosign/sign/v1',
    });
    const m = JSON.parse(Buffer.from(r.manifest).toString('utf8')) as LooseJson;
    assert.deepEqual(Object.keys(m), [
      'schemaVersion',
      'mediaType',
      'config',
      'layers',
      'annotations',
      'subject',
      'artifactType',
    ]);
    assert.deepEqual(m['config'], {
      mediaType: 'application/vnd.oci.empty.v1+json',
      size: 2,
      digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    });
    assert.equal(digestOf(EMPTY_CONFIG), m['config'].digest);
    assert.deepEqual(m['layers'], [
      { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', size: bundle.length, digest: digestOf(bundle) },
    ]);
    assert.deepEqual(Object.entries(m['annotations']), [
      ['dev.sigstore.bundle.content', 'dsse-envelope'],
      ['dev.sigstore.bundle.predicateType', 'https://sigstore.dev/cosign/sign/v1'],
      ['org.opencontainers.image.created', '2026-04-09T07:23:30Z'],
    ]);
    assert.deepEqual(m['subject'], subject);
    assert.equal(m['artifactType'], 'application/vnd.dev.sigstore.bundle.v0.3+json');
    assert.equal(r.manifestDigest, digestOf(r.manifest));
    assert.ok(!Buffer.from(r.manifest).includes(' '), 'compact JSON');
  });

  test('buildReferrersTagIndex: entries sorted by digest, duplicates dropped, no annotations', () => {
    const e = (d: string): { mediaType: string; size: number; digest: string; artifactType: string } => ({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      size: 10,
      digest: d,
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    });
    const a = digestOf(Buffer.from('a'));
    const b = digestOf(Buffer.from('b'));
    const [first, second] = [a, b].sort();
    const { index, digest } = buildReferrersTagIndex([e(second ?? ''), e(first ?? ''), e(second ?? '')]);
    const parsed = JSON.parse(Buffer.from(index).toString('utf8')) as {
      schemaVersion: number;
      mediaType: string;
      manifests: { digest: string }[];
    };
    assert.equal(parsed.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(
      parsed.manifests.map((m) => m.digest),
      [first, second],
    );
    assert.deepEqual(Object.keys(parsed.manifests[0] ?? {}), ['mediaType', 'size', 'digest', 'artifactType']);
    assert.equal(digest, digestOf(index));
    assert.equal(JSON.parse(Buffer.from(buildReferrersTagIndex([]).index).toString()).manifests.length, 0);
  });
});

describe('signBytes', () => {
  const msg = Buffer.from('message');
  test('ECDSA DER/SHA-256, RSA PKCS#1 v1.5/SHA-256, Ed25519: each verifies with node for exactly that scheme', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ecSig = signBytes(ec.privateKey, msg);
    assert.equal(ecSig[0], 0x30, 'DER SEQUENCE');
    assert.ok(verify('sha256', msg, { key: ec.publicKey, dsaEncoding: 'der' }, ecSig));
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    assert.ok(verify('sha256', msg, { key: rsa.publicKey, padding: 1 }, signBytes(rsa.privateKey, msg)));
    const ed = generateKeyPairSync('ed25519');
    assert.ok(verify(null, msg, ed.publicKey, signBytes(ed.privateKey, msg)));
  });
  test('refuses a public key and non-cosign key types', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.throws(() => signBytes(ec.publicKey, msg), /private key is required/);
    assert.throws(() => signBytes(generateKeyPairSync('ed448').privateKey, msg), /not a cosign key type/);
  });
});
