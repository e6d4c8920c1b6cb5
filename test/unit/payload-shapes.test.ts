// Rebuilding a legacy signature layer's bytes from a known shape: only ever bytes that hash to the layer's digest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { PayloadShapes, cosignPayloadShape } from '../../src/proxy/payload-shapes.ts';
import type { Descriptor } from '../../src/oci/manifest.ts';
import type { Digest } from '../../src/oci/digest.ts';
import { MT } from '../../src/oci/mediatypes.ts';

const fixture = (p: string): Buffer => readFileSync(new URL(`../fixtures/${p}`, import.meta.url));
const sha = (b: Uint8Array): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;
const signedDigest = (payload: Buffer): Digest =>
  (JSON.parse(payload.toString()) as { critical: { image: { 'docker-manifest-digest': Digest } } }).critical.image[
    'docker-manifest-digest'
  ];
const layerOf = (payload: Uint8Array, over: Partial<Descriptor> = {}): Descriptor => ({
  mediaType: MT.cosignSimpleSigning,
  digest: sha(payload),
  size: payload.length,
  annotations: {},
  ...over,
});
const otherDigest = `sha256:${'ab'.repeat(32)}` as Digest;

test("cosign's own payload (real cosign output) is rebuilt from the repository name alone", () => {
  const payload = fixture('cimage-cosign-key-only/payload.json');
  const shapes = new PayloadShapes();
  const rebuilt = shapes.rebuild(
    '192.168.64.2:5000/cosign-signed-single-sample',
    layerOf(payload),
    signedDigest(payload),
  );
  assert.ok(rebuilt);
  assert.deepEqual(Buffer.from(rebuilt), payload);
});

test('the Docker Hub spelling index.docker.io is tried for docker.io repositories', () => {
  const payload = fixture('connaisseur-key-signatures/payload-7248e52a.json');
  const rebuilt = new PayloadShapes().rebuild(
    'docker.io/securesystemsengineering/testimage',
    layerOf(payload),
    signedDigest(payload),
  );
  assert.deepEqual(Buffer.from(rebuilt ?? []), payload);
});

test('another repository name, digest, size or media type rebuilds nothing', () => {
  const payload = fixture('cimage-cosign-key-only/payload.json');
  const digest = signedDigest(payload);
  const shapes = new PayloadShapes();
  const repo = '192.168.64.2:5000/cosign-signed-single-sample';
  assert.equal(shapes.rebuild('192.168.64.2:5000/other', layerOf(payload), digest), undefined);
  assert.equal(shapes.rebuild(repo, layerOf(payload), otherDigest), undefined);
  assert.equal(shapes.rebuild(repo, layerOf(payload, { size: payload.length + 1 }), digest), undefined);
  assert.equal(shapes.rebuild(repo, layerOf(payload, { digest: sha(Buffer.from('x')) }), digest), undefined);
  assert.equal(shapes.rebuild(repo, layerOf(payload, { mediaType: 'application/octet-stream' }), digest), undefined);
});

test('a fetched payload with annotations teaches its shape: the next digest of that repository is rebuilt', () => {
  const payload = fixture('cimage-cosign-key-only/skopeo-with-tag.payload.json');
  const repo = '192.168.64.2:5000/skopeo-signed';
  const shapes = new PayloadShapes();
  // The skopeo payload names a tag in its reference and carries `optional` fields: no default shape fits.
  assert.equal(shapes.rebuild(repo, layerOf(payload), signedDigest(payload)), undefined);
  shapes.learn(repo, payload, signedDigest(payload));
  const next = Buffer.from(payload.toString().replace(signedDigest(payload), otherDigest));
  assert.deepEqual(Buffer.from(shapes.rebuild(repo, layerOf(next), otherDigest) ?? []), next);
  // Learned per repository only.
  assert.equal(shapes.rebuild(`${repo}-2`, layerOf(next), otherDigest), undefined);
});

test('a payload naming the digest twice, or none, teaches nothing; shapes per repository are bounded', () => {
  const repo = 'r.example/a';
  const shapes = new PayloadShapes();
  const twice = Buffer.from(`{"a":"${otherDigest}","b":"${otherDigest}"}`);
  shapes.learn(repo, twice, otherDigest);
  const d2 = `sha256:${'cd'.repeat(32)}` as Digest;
  const twice2 = Buffer.from(`{"a":"${d2}","b":"${d2}"}`);
  assert.equal(shapes.rebuild(repo, layerOf(twice2), d2), undefined);
  // Three shapes learned, two kept (the most recent): the oldest no longer rebuilds.
  const shapesOf = (i: number, d: Digest): Buffer => Buffer.from(`{"n":${i},"d":"${d}"}`);
  for (const i of [1, 2, 3]) shapes.learn(repo, shapesOf(i, otherDigest), otherDigest);
  assert.equal(shapes.rebuild(repo, layerOf(shapesOf(1, d2)), d2), undefined);
  assert.deepEqual(Buffer.from(shapes.rebuild(repo, layerOf(shapesOf(3, d2)), d2) ?? []), shapesOf(3, d2));
  assert.deepEqual(Buffer.from(shapes.rebuild(repo, layerOf(shapesOf(2, d2)), d2) ?? []), shapesOf(2, d2));
});

test('the default shape is byte-for-byte what cosign writes', () => {
  const payload = fixture('cimage-cosign-fulcio-rekor/payload.json');
  const s = cosignPayloadShape('192.168.64.2:5000/cosign-signed/fulcio-rekor-1');
  assert.equal(`${s.prefix}${signedDigest(payload)}${s.suffix}`, payload.toString());
});
