// A declared signature artifact is served without a verdict only when its layer bytes prove it inert: each is the
// document its media type names, and none is an archive a runtime (podman sniffs bytes) could unpack.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { parseManifest } from '../../src/oci/manifest.ts';
import { archiveKind, isTarHeader } from '../../src/oci/archive.ts';
import { attachmentProblem, claimsAttachment } from '../../src/verify/attachment.ts';
import { parseSimpleSigning } from '../../src/verify/simple-signing.ts';
import { unverifiedPassage } from '../../src/proxy/passage.ts';
import { makeTar } from '../helpers/tar.ts';
import { sha256 } from '../helpers/registry-client.ts';
import { at } from '../helpers/must.ts';

const OCI_M = 'application/vnd.oci.image.manifest.v1+json';
const SIG = 'application/vnd.dev.cosign.simplesigning.v1+json';
const fixture = (f: string) => readFileSync(new URL(`../fixtures/${f}`, import.meta.url));
const realSigManifest = fixture('connaisseur-key-signatures/sig-manifest-071bf7a9.json');
const realPayload = fixture('connaisseur-key-signatures/payload-d8ee807d.json');
const PAYLOAD = new TextEncoder().encode(
  `{"critical":{"identity":{"docker-reference":"example.test/app"},"image":{"docker-manifest-digest":"sha256:${'a'.repeat(64)}"},"type":"cosign container image signature"},"optional":null}`,
);

/** An image manifest whose layers are `blobs`, each declared with the given type. */
function artifact(layers: { mediaType: string; blob: Uint8Array; size?: number }[]) {
  const body = {
    schemaVersion: 2,
    mediaType: OCI_M,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'c'.repeat(64)}`, size: 2 },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: sha256(l.blob), size: l.size ?? l.blob.length })),
  };
  const parsed = parseManifest(new TextEncoder().encode(JSON.stringify(body)), OCI_M);
  const blobs = new Map(layers.map((l) => [sha256(l.blob), l.blob]));
  return { parsed, blobs, bytes: new TextEncoder().encode(JSON.stringify(body)) };
}

/** A simple-signing payload that is ALSO a tar header Go's archive/tar accepts: the docker-reference string spans the
 * first 512 bytes, and the header's numeric fields (ASCII octal digits and spaces) sit inside it. */
function jsonTarPolyglot(): Uint8Array {
  const head = '{"critical":{"identity":{"docker-reference":"';
  const block = Buffer.alloc(512, 'a');
  block.write(head, 0, 'latin1');
  const field = (at: number, s: string) => block.write(s, at, 'latin1');
  field(100, '0000644 '); // mode
  field(108, '0000000 '); // uid
  field(116, '0000000 '); // gid
  field(124, '00000000000 '); // size 0
  field(136, '00000000000 '); // mtime
  field(156, '0'); // regular file
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  field(148, `${sum.toString(8).padStart(7, '0')} `);
  const tail = `"},"image":{"docker-manifest-digest":"sha256:${'a'.repeat(64)}"},"type":"cosign container image signature"},"optional":null}`;
  return Buffer.concat([block, Buffer.from(tail, 'latin1')]);
}

describe('archive detection', () => {
  test('compressed data and tar archives are archives; JSON and text are not', () => {
    assert.match(archiveKind(gzipSync(Buffer.from('{}'))) ?? '', /gzip/);
    assert.match(archiveKind(makeTar({ 'bin/sh': 'echo hi\n' })) ?? '', /tar/);
    assert.match(archiveKind(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2])) ?? '', /zstd/);
    assert.match(archiveKind(Buffer.from('BZh91AY&SY')) ?? '', /bzip2/);
    assert.match(archiveKind(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1])) ?? '', /xz/);
    assert.equal(archiveKind(PAYLOAD), undefined);
    assert.equal(archiveKind(realPayload), undefined);
    assert.equal(archiveKind(Buffer.alloc(1024, 0x20)), undefined);
  });

  test('a JSON document built to be a valid tar header is detected as a tar', () => {
    const poly = jsonTarPolyglot();
    assert.equal(parseSimpleSigning(poly).ok, true, 'the polyglot really is a valid simple-signing payload');
    assert.equal(isTarHeader(poly), true);
    const flipped = Buffer.from(poly);
    flipped[40] = 0x62; // one byte changed: the checksum no longer matches
    assert.equal(isTarHeader(flipped), false);
  });
});

describe('attachment proof', () => {
  test('a real cosign .sig manifest with its real payload is proven inert', () => {
    const parsed = parseManifest(realSigManifest, undefined);
    assert.equal(claimsAttachment(parsed), true);
    const blobs = new Map([[sha256(realPayload), new Uint8Array(realPayload)]]);
    assert.equal(attachmentProblem(parsed, blobs), undefined);
    assert.equal(
      unverifiedPassage({ bytes: realSigManifest, contentType: OCI_M, indexPassThrough: false, layerBlobs: blobs }),
      'attachment',
    );
  });

  const TAR = makeTar({ 'bin/evil': '#!/bin/sh\necho pwned\n' });
  const bad: [string, () => ReturnType<typeof artifact>, RegExp][] = [
    [
      'a tar+gzip declared as simple-signing',
      () => artifact([{ mediaType: SIG, blob: gzipSync(TAR) }]),
      /gzip-compressed data/,
    ],
    ['a plain tar declared as simple-signing', () => artifact([{ mediaType: SIG, blob: TAR }]), /a tar archive/],
    [
      'a JSON/tar polyglot declared as simple-signing',
      () => artifact([{ mediaType: SIG, blob: jsonTarPolyglot() }]),
      /a tar archive/,
    ],
    [
      'a tar declared as a DSSE envelope',
      () => artifact([{ mediaType: 'application/vnd.dsse.envelope.v1+json', blob: TAR }]),
      /tar archive/,
    ],
    [
      'JSON that is not a simple-signing payload',
      () => artifact([{ mediaType: SIG, blob: new TextEncoder().encode('{"a":1}') }]),
      /not a simple-signing payload/,
    ],
    [
      'JSON that is not a DSSE envelope',
      () =>
        artifact([
          { mediaType: 'application/vnd.dsse.envelope.v1+json', blob: new TextEncoder().encode('{"payload":1}') },
        ]),
      /not a DSSE envelope/,
    ],
    [
      'a bundle type holding other JSON',
      () =>
        artifact([
          {
            mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
            blob: new TextEncoder().encode('{"mediaType":"x"}'),
          },
        ]),
      /not a Sigstore bundle/,
    ],
    [
      'an SPDX text layer with NUL bytes',
      () => artifact([{ mediaType: 'text/spdx', blob: Buffer.from('SPDXVersion: 2\0\0') }]),
      /control bytes/,
    ],
    [
      'a good payload then a tar+gzip',
      () =>
        artifact([
          { mediaType: SIG, blob: PAYLOAD },
          { mediaType: SIG, blob: gzipSync(TAR) },
        ]),
      /layer 2 .*gzip/,
    ],
    [
      "a layer whose size is not its blob's",
      () => artifact([{ mediaType: SIG, blob: PAYLOAD, size: PAYLOAD.length + 1 }]),
      /bytes, not the/,
    ],
  ];
  for (const [name, make, why] of bad) {
    test(`not proven: ${name}`, () => {
      const a = make();
      assert.equal(claimsAttachment(a.parsed), true);
      assert.match(attachmentProblem(a.parsed, a.blobs) ?? '', why);
      assert.equal(
        unverifiedPassage({ bytes: a.bytes, contentType: OCI_M, indexPassThrough: false, layerBlobs: a.blobs }),
        'verdict',
      );
    });
  }

  test('a blob that does not match its digest, or was not read, proves nothing', () => {
    const a = artifact([{ mediaType: SIG, blob: PAYLOAD }]);
    const digest = at(a.parsed.layers, 0).digest;
    const swapped = new Uint8Array(PAYLOAD);
    swapped[2] = 0x43;
    assert.match(attachmentProblem(a.parsed, new Map([[digest, swapped]])) ?? '', /does not match its digest/);
    assert.match(attachmentProblem(a.parsed, new Map()) ?? '', /was not read/);
  });

  test('genuine documents of every attachment type are proven', () => {
    const dsse = new TextEncoder().encode(
      JSON.stringify({
        payloadType: 'application/vnd.in-toto+json',
        payload: Buffer.from('{}').toString('base64'),
        signatures: [{ keyid: '', sig: 'AAAA' }],
      }),
    );
    const bundle = fixture('cosign-v3-sign-bundle/bundle.sigstore.json');
    const a = artifact([
      { mediaType: SIG, blob: PAYLOAD },
      { mediaType: 'application/vnd.dsse.envelope.v1+json', blob: dsse },
      { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', blob: bundle },
      { mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.2', blob: bundle },
      {
        mediaType: 'application/vnd.in-toto+json',
        blob: new TextEncoder().encode('{"_type":"https://in-toto.io/Statement/v1"}'),
      },
      { mediaType: 'text/spdx', blob: new TextEncoder().encode('SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\n') },
      { mediaType: 'application/spdx+json', blob: new TextEncoder().encode('{"spdxVersion":"SPDX-2.3"}') },
    ]);
    assert.equal(attachmentProblem(a.parsed, a.blobs), undefined);
  });

  test('only image manifests whose every layer has an attachment type claim to be attachments', () => {
    assert.equal(
      claimsAttachment(artifact([{ mediaType: 'application/vnd.dev.sigstore.bundle.tar+gzip', blob: PAYLOAD }]).parsed),
      false,
    );
    assert.equal(
      claimsAttachment(
        artifact([
          { mediaType: SIG, blob: PAYLOAD },
          { mediaType: 'application/vnd.oci.image.layer.v1.tar', blob: PAYLOAD },
        ]).parsed,
      ),
      false,
    );
    assert.equal(claimsAttachment(artifact([]).parsed), false);
  });
});
