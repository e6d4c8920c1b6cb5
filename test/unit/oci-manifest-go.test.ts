// Manifests are read the way Go's encoding/json reads them (containerd, podman), or refused: keys Go would fold onto
// a known field, duplicates, a document of two kinds, a body type that disagrees with the served type.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseManifest } from '../../src/oci/manifest.ts';
import { goFoldKey } from '../../src/oci/go-fields.ts';
import { isSigwardError } from '../../src/errors.ts';

const OCI_M = 'application/vnd.oci.image.manifest.v1+json';
const OCI_I = 'application/vnd.oci.image.index.v1+json';
const DOCKER_M = 'application/vnd.docker.distribution.manifest.v2+json';
const V1 = 'application/vnd.docker.distribution.manifest.v1+prettyjws';
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const SIG = 'application/vnd.dev.cosign.simplesigning.v1+json';
const TGZ = 'application/vnd.oci.image.layer.v1.tar+gzip';
const desc = (mt: string, d = D1, extra = '') => `{"mediaType":"${mt}","digest":"${d}","size":10${extra}}`;
const cfg = desc('application/vnd.oci.image.config.v1+json', D2);
const bytes = (s: string) => new TextEncoder().encode(s);

function refused(json: string, contentType: string | undefined, why: RegExp): void {
  assert.throws(
    () => parseManifest(bytes(json), contentType),
    (e: unknown) => isSigwardError(e, 'MANIFEST_INVALID') && why.test(e.message),
    `expected MANIFEST_INVALID matching ${why} for ${json}`,
  );
}

describe('Go field folding', () => {
  test('goFoldKey folds like encoding/json: ASCII case, long s and Kelvin sign', () => {
    assert.equal(goFoldKey('layers'), goFoldKey('LAYERS'));
    assert.equal(goFoldKey('layers'), goFoldKey('layer\u017f'));
    assert.equal(goFoldKey('k'), goFoldKey('\u212a'));
    assert.notEqual(goFoldKey('layers'), goFoldKey('layer'));
  });

  const folded: [string, string][] = [
    [
      'top-level Layers after layers',
      `{"schemaVersion":2,"mediaType":"${OCI_M}","config":${cfg},"layers":[${desc(SIG)}],"Layers":[${desc(TGZ)}]}`,
    ],
    ['only LAYERS', `{"schemaVersion":2,"mediaType":"${OCI_M}","config":${cfg},"LAYERS":[${desc(TGZ)}]}`],
    [
      'long s: layer\\u017f',
      `{"schemaVersion":2,"mediaType":"${OCI_M}","config":${cfg},"layers":[${desc(SIG)}],"layer\u017f":[${desc(TGZ)}]}`,
    ],
    [
      'escaped \\u004cayers',
      `{"schemaVersion":2,"mediaType":"${OCI_M}","config":${cfg},"layers":[${desc(SIG)}],"\\u004cayers":[${desc(TGZ)}]}`,
    ],
    ['MediaType at top', `{"schemaVersion":2,"MediaType":"${OCI_M}","config":${cfg},"layers":[]}`],
    ['Config', `{"schemaVersion":2,"mediaType":"${OCI_M}","Config":${cfg},"layers":[]}`],
    ['Manifests in an index', `{"schemaVersion":2,"mediaType":"${OCI_I}","manifests":[],"Manifests":[${desc(OCI_M)}]}`],
    [
      "a layer's mediatype",
      `{"schemaVersion":2,"mediaType":"${OCI_M}","config":${cfg},"layers":[{"mediaType":"${SIG}","mediatype":"${TGZ}","digest":"${D1}","size":1}]}`,
    ],
    [
      "a layer's \\u017fize",
      `{"schemaVersion":2,"mediaType":"${OCI_M}","config":${cfg},"layers":[{"mediaType":"${SIG}","digest":"${D1}","\u017fize":1}]}`,
    ],
    [
      'config.Digest',
      `{"schemaVersion":2,"mediaType":"${OCI_M}","config":{"mediaType":"x","digest":"${D1}","Digest":"${D2}","size":1},"layers":[]}`,
    ],
    [
      'subject.DIGEST',
      `{"schemaVersion":2,"mediaType":"${OCI_M}","config":${cfg},"layers":[],"subject":{"mediaType":"x","DIGEST":"${D1}","size":1}}`,
    ],
    [
      'manifests[].platform.OS',
      `{"schemaVersion":2,"mediaType":"${OCI_I}","manifests":[${desc(OCI_M, D1, ',"platform":{"os":"linux","OS":"windows","architecture":"amd64"}')}]}`,
    ],
    [
      'fsLayers[].BlobSum',
      `{"schemaVersion":1,"name":"a","tag":"b","architecture":"amd64","fsLayers":[{"BlobSum":"${D1}"}],"history":[]}`,
    ],
  ];
  for (const [name, json] of folded) {
    test(`refused: ${name}`, () => refused(json, undefined, /Go's case-insensitive matching|Go's decoder/));
  }

  test('exact duplicate keys are refused at the top and inside a descriptor', () => {
    refused(
      `{"schemaVersion":2,"mediaType":"${OCI_M}","config":${cfg},"layers":[],"layers":[${desc(TGZ)}]}`,
      OCI_M,
      /duplicate key "layers"/,
    );
    refused(
      `{"schemaVersion":2,"mediaType":"${OCI_M}","config":${cfg},"layers":[{"mediaType":"${SIG}","digest":"${D1}","digest":"${D2}","size":1}]}`,
      OCI_M,
      /duplicate key "digest"/,
    );
  });

  test('keys Go ignores are ignored, and annotation maps are exact in Go (case variants are distinct keys)', () => {
    const p = parseManifest(
      bytes(
        `{"schemaVersion":2,"mediaType":"${OCI_M}","config":${cfg},"layers":[${desc(TGZ, D1, ',"annotations":{"Org":"a","org":"b"}')}],"foo":1,"FOO":2,"\u212aind":3}`,
      ),
      OCI_M,
    );
    assert.equal(p.kind, 'image');
    assert.deepEqual(
      p.layers.map((l) => l.annotations),
      [{ Org: 'a', org: 'b' }],
    );
  });

  test('not UTF-8, a lone surrogate escape, trailing data: refused', () => {
    assert.throws(
      () => parseManifest(new Uint8Array([0x7b, 0xff, 0x7d]), OCI_M),
      (e: unknown) => isSigwardError(e, 'MANIFEST_INVALID'),
    );
    refused(`{"schemaVersion":2,"mediaType":"${OCI_M}","config":${cfg},"layers":[],"\\ud800":1}`, OCI_M, /surrogate/);
    refused(`{"schemaVersion":2,"mediaType":"${OCI_M}","config":${cfg},"layers":[]} {}`, OCI_M, /after the JSON value/);
  });
});

describe('one kind per document', () => {
  const cases: [string, string, string | undefined, RegExp][] = [
    [
      'an index type with layers and config',
      `{"schemaVersion":2,"mediaType":"${OCI_I}","config":${cfg},"layers":[${desc(TGZ)}]}`,
      OCI_I,
      /index type .* has image content/,
    ],
    [
      'an index with manifests and layers',
      `{"schemaVersion":2,"mediaType":"${OCI_I}","manifests":[${desc(OCI_M)}],"layers":[${desc(TGZ)}]}`,
      OCI_I,
      /index and an image manifest at once/,
    ],
    [
      'an image manifest with manifests',
      `{"schemaVersion":2,"mediaType":"${OCI_M}","config":${cfg},"layers":[],"manifests":[${desc(OCI_M)}]}`,
      OCI_M,
      /index and an image manifest at once/,
    ],
    [
      'no type at all, both lists',
      `{"schemaVersion":2,"config":${cfg},"manifests":[${desc(OCI_M)}]}`,
      undefined,
      /at once/,
    ],
    [
      'fsLayers beside layers',
      `{"schemaVersion":2,"mediaType":"${DOCKER_M}","config":${cfg},"layers":[],"fsLayers":[{"blobSum":"${D1}"}]}`,
      DOCKER_M,
      /schema 1 fsLayers/,
    ],
    ['a schema 1 type with layers', `{"schemaVersion":1,"layers":[${desc(TGZ)}]}`, V1, /schema 1 type/],
    [
      'an index served as an image manifest',
      `{"schemaVersion":2,"manifests":[${desc(OCI_M)}]}`,
      OCI_M,
      /image manifest type .* other content/,
    ],
  ];
  for (const [name, json, ct, why] of cases) test(`refused: ${name}`, () => refused(json, ct, why));

  test('a body mediaType that disagrees with the served type is refused', () => {
    refused(
      `{"schemaVersion":2,"mediaType":"${OCI_I}","manifests":[]}`,
      OCI_M,
      /body says mediaType .*index.* served as .*manifest/,
    );
    refused(`{"schemaVersion":2,"mediaType":"${OCI_M}","config":${cfg},"layers":[]}`, DOCKER_M, /served as/);
  });

  test('kinds of genuine documents', () => {
    assert.equal(
      parseManifest(bytes(`{"schemaVersion":2,"mediaType":"${OCI_I}","manifests":[${desc(OCI_M)}]}`), OCI_I).kind,
      'index',
    );
    assert.equal(parseManifest(bytes(`{"schemaVersion":2,"manifests":[${desc(OCI_M)}]}`), OCI_I).isIndex, true);
    assert.equal(parseManifest(bytes(`{"schemaVersion":2,"config":${cfg},"layers":[]}`), OCI_M).kind, 'image');
    assert.equal(
      parseManifest(
        bytes(`{"schemaVersion":1,"name":"a","fsLayers":[{"blobSum":"${D1}"}],"history":[{"v1Compatibility":"{}"}]}`),
        V1,
      ).kind,
      'schema1',
    );
    assert.equal(
      parseManifest(bytes(`{"schemaVersion":2,"config":${cfg},"layers":[]}`), 'application/vnd.example+json').kind,
      'other',
    );
  });

  test('real cosign signature manifests and signed image manifests parse unchanged', () => {
    for (const f of [
      'connaisseur-key-signatures/sig-manifest-071bf7a9.json',
      'connaisseur-key-signatures/sig-manifest-bfec161f-3sigs.json',
      'cimage-cosign-key-only/image-manifest.json',
    ]) {
      const raw = readFileSync(new URL(`../fixtures/${f}`, import.meta.url));
      const p = parseManifest(raw, undefined);
      const j = JSON.parse(raw.toString()) as { layers: { digest: string }[] };
      assert.deepEqual(
        p.layers.map((l) => l.digest),
        j.layers.map((l) => l.digest),
        f,
      );
    }
  });
});
