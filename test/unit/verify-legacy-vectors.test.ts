// Real cosign legacy signatures (test/fixtures, see its README) through verifySignature.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { digestOf, type Digest } from '../../src/oci/digest.ts';
import { parsePublicKey, verifySignature } from '../../src/verify/index.ts';
import type { TrustedKey, UntrustedLegacySignature } from '../../src/verify/types.ts';

const read = (dir: string, name: string): Buffer =>
  readFileSync(new URL(`../fixtures/${dir}/${name}`, import.meta.url));
const key = (dir: string, name: string): TrustedKey => parsePublicKey(name, read(dir, `${name}.pub`).toString('utf8'));

/** A layer as the fetcher hands it over, from `<prefix>payload.json`, `<prefix>layer-annotations.json`, `…mediatype.txt`. */
function fixtureLayer(dir: string, prefix = ''): UntrustedLegacySignature {
  const payload = read(dir, `${prefix}payload.json`);
  return {
    format: 'legacy',
    source: `${dir}/${prefix || 'signature'}`,
    layerDigest: digestOf(payload),
    layerMediaType: read(dir, `${prefix}layer-mediatype.txt`).toString('utf8').trim(),
    annotations: JSON.parse(read(dir, `${prefix}layer-annotations.json`).toString('utf8')) as Record<string, string>,
    payload,
  };
}

describe('cimage-cosign-key-only (real cosign sign --key, P-256)', () => {
  const dir = 'cimage-cosign-key-only';
  const cosign = key(dir, 'cosign');
  const cosign2 = key(dir, 'cosign2');
  const digest = digestOf(read(dir, 'image-manifest.json'));

  test('the signed manifest has the digest the payload claims', () => {
    assert.equal(digest, 'sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00');
  });

  for (const prefix of ['', 'second-sig.']) {
    test(`${prefix || 'original '}signature verifies with cosign.pub, and only with it`, () => {
      const ok = verifySignature(fixtureLayer(dir, prefix), { digest, keys: [cosign2, cosign] });
      assert.equal(ok.verified, true, ok.message);
      assert.deepEqual(ok.signers, ['cosign']);
      assert.equal(ok.dockerReference, '192.168.64.2:5000/cosign-signed-single-sample');
      assert.deepEqual(ok.annotations, {});
      assert.equal(ok.notEvaluated, undefined);
      const other = verifySignature(fixtureLayer(dir, prefix), { digest, keys: [cosign2] });
      assert.equal(other.verified, false);
      assert.equal(other.reason, 'unknown-key');
    });
  }

  test('the two signatures are different bytes (ECDSA is randomized), both over the same payload', () => {
    const a = fixtureLayer(dir);
    const b = fixtureLayer(dir, 'second-sig.');
    assert.notEqual(
      a.annotations['dev.cosignproject.cosign/signature'],
      b.annotations['dev.cosignproject.cosign/signature'],
    );
    assert.deepEqual(a.payload, b.payload);
  });

  test('a signature by an unknown key fails unknown-key', () => {
    const r = verifySignature(fixtureLayer(dir, 'neg-unknown-key.'), { digest, keys: [cosign, cosign2] });
    assert.equal(r.verified, false);
    assert.equal(r.reason, 'unknown-key');
    assert.deepEqual(r.signers, []);
    assert.match(r.message ?? '', /"cosign", "cosign2"/);
  });

  test('against the modified manifest, the genuine signature fails digest-mismatch naming both digests', () => {
    const modified = digestOf(read(dir, 'neg-modified-image-manifest.json'));
    assert.equal(modified, 'sha256:d9dcafdb480aa7c475e91737b96925e45844213dcb0290b4a90017459121f71f');
    const r = verifySignature(fixtureLayer(dir), { digest: modified, keys: [cosign] });
    assert.equal(r.verified, false);
    assert.equal(r.reason, 'digest-mismatch');
    assert.ok(r.message?.includes(modified), r.message);
    assert.ok(r.message?.includes(digest), r.message);
    assert.equal(r.annotations, undefined);
  });

  test('the payload with one byte changed fails (and the fetcher digest is recomputed for it)', () => {
    const good = fixtureLayer(dir);
    const payload = Buffer.from(good.payload);
    const at = payload.indexOf('634a8f35');
    payload[at] = '7'.charCodeAt(0);
    const r = verifySignature({ ...good, payload, layerDigest: digestOf(payload) }, { digest, keys: [cosign] });
    assert.equal(r.verified, false);
    assert.equal(r.reason, 'unknown-key');
  });

  test('the skopeo-made signature (tag in docker-reference, numeric optional) verifies on its digest claim', () => {
    const r = verifySignature(fixtureLayer(dir, 'skopeo-with-tag.'), { digest, keys: [cosign] });
    assert.equal(r.verified, true, r.message);
    assert.equal(r.dockerReference, '192.168.64.2:5000/skopeo-signed:tag');
    assert.deepEqual(r.annotations, { creator: 'containers/image 5.21.2-dev', timestamp: 1657296609 });
  });

  test('no trusted keys: unknown-key with a message saying so', () => {
    const r = verifySignature(fixtureLayer(dir), { digest, keys: [] });
    assert.equal(r.reason, 'unknown-key');
    assert.match(r.message ?? '', /no trusted keys/);
  });
});

describe('connaisseur-key-signatures (real Docker Hub .sig images, alice/bob/charlie)', () => {
  const dir = 'connaisseur-key-signatures';
  const keys = ['alice', 'bob', 'charlie', 'default'].map((n) => key(dir, n));
  const cases = [
    { sigManifest: 'sig-manifest-071bf7a9.json', image: 'multi-cosigned-alice.json', signers: ['alice'] },
    {
      sigManifest: 'sig-manifest-bfec161f-3sigs.json',
      image: 'multi-cosigned-alice-bob-charlie.json',
      signers: ['alice', 'bob', 'charlie'],
    },
  ];
  for (const c of cases) {
    const manifest = JSON.parse(read(dir, c.sigManifest).toString('utf8')) as {
      layers: { mediaType: string; size: number; digest: Digest; annotations: Record<string, string> }[];
    };
    const digest = digestOf(read(dir, c.image));
    test(`${c.sigManifest}: ${manifest.layers.length} layer(s), each verifies with exactly its signer's key`, () => {
      assert.equal(manifest.layers.length, c.signers.length);
      manifest.layers.forEach((layer, i) => {
        const payload = read(dir, `payload-${layer.digest.slice(7, 15)}.json`);
        assert.equal(payload.length, layer.size);
        const sig: UntrustedLegacySignature = {
          format: 'legacy',
          source: `${c.sigManifest} layer ${i}`,
          layerDigest: layer.digest,
          layerMediaType: layer.mediaType,
          annotations: layer.annotations,
          payload,
        };
        for (const k of keys) {
          const r = verifySignature(sig, { digest, keys: [k] });
          const expected = k.name === c.signers[i];
          assert.equal(r.verified, expected, `layer ${i} with ${k.name}: ${r.message}`);
          if (!expected) assert.equal(r.reason, 'unknown-key');
        }
        const all = verifySignature(sig, { digest, keys });
        assert.deepEqual(all.signers, [c.signers[i]]);
        assert.equal(all.dockerReference, 'index.docker.io/securesystemsengineering/testimage');
      });
    });
  }
});

describe('cimage-cosign-pki (RSA-4096 PKCS#1 v1.5, newline-wrapped base64)', () => {
  const dir = 'cimage-cosign-pki';
  const digest = digestOf(read(dir, 'image-manifest.json'));
  const leaf = new X509Certificate(read(dir, 'certificate.pem'));
  const leafKey = parsePublicKey('team-a', leaf.publicKey.export({ type: 'spki', format: 'pem' }).toString());
  const layer = fixtureLayer(dir);

  test('the signature annotation really contains newlines', () => {
    assert.match(layer.annotations['dev.cosignproject.cosign/signature'] ?? '', /\n/);
    assert.equal(leafKey.algorithm, 'rsa');
  });

  test("verifies with the leaf certificate's public key given as a trusted key; cert material is not claimed", () => {
    const r = verifySignature(layer, { digest, keys: [leafKey] });
    assert.equal(r.verified, true, r.message);
    assert.deepEqual(r.signers, ['team-a']);
    assert.equal(r.dockerReference, 'localhost:5000/test');
    assert.deepEqual(r.notEvaluated, ['certificate']);
  });

  test('one base64 character changed: fails, as bad-signature because the certificate names the trusted key', () => {
    const b64 = layer.annotations['dev.cosignproject.cosign/signature'] ?? '';
    const at = 10;
    const changed = b64.slice(0, at) + (b64[at] === 'A' ? 'B' : 'A') + b64.slice(at + 1);
    const r = verifySignature(
      { ...layer, annotations: { ...layer.annotations, 'dev.cosignproject.cosign/signature': changed } },
      { digest, keys: [leafKey] },
    );
    assert.equal(r.verified, false);
    assert.equal(r.reason, 'bad-signature');
    assert.match(r.message ?? '', /team-a/);
  });

  test('a different key: unknown-key, not bad-signature', () => {
    const other = key('cimage-cosign-key-only', 'cosign');
    const r = verifySignature(layer, { digest, keys: [other] });
    assert.equal(r.reason, 'unknown-key');
    assert.match(r.message ?? '', /carries a certificate/);
    assert.deepEqual(r.notEvaluated, ['certificate']);
  });
});
