// The gate's serve-without-verdict decision against the real Go decoder. Whatever unverifiedPassage lets through
// without a policy verdict (attachments, referrers indexes, `platforms: child` indexes) must give containerd no layer
// to unpack and podman no layer blob that is an archive, as they read the same bytes (encoding/json folds key case,
// the last duplicate wins; containerd dispatches on the Content-Type; podman sniffs blobs). Fixed cases are the
// reproduced bypasses; the property runs seeded generated documents (test/helpers/manifest-gen.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { SigwardError } from '../../src/errors.ts';
import { unverifiedPassage, type Passage } from '../../src/proxy/passage.ts';
import { startGoDecoder, type GoDecoder, type GoReading, type GoView } from '../helpers/go-decoder.ts';
import { arr, caseArb, jsonTarPolyglot, makeBlob, obj, sha256, T, type Generated } from '../helpers/manifest-gen.ts';
import { makeTar } from '../helpers/tar.ts';

/** Fixed: a failure names the seed and the counterexample's path, and the same run replays it. */
const SEED = 0x5167;
/** Bounded for a 2-core machine: the whole file stays well under a minute. */
const RUNS = 6000;

let go: GoDecoder;
before(() => {
  go = startGoDecoder();
});
after(async () => {
  await go?.close();
});

type Outcome = Passage | 'refused';

function passage(g: Generated): Outcome {
  try {
    return unverifiedPassage({
      bytes: g.bytes,
      contentType: g.contentType,
      ...(g.tag !== undefined ? { tag: g.tag } : {}),
      indexPassThrough: g.indexPassThrough,
      layerBlobs: g.blobs,
    });
  } catch (e) {
    if (e instanceof SigwardError && e.code === 'MANIFEST_INVALID') return 'refused';
    throw e;
  }
}

/** The Content-Type a client receives: the upstream's, else what sigward's upstream client derives from the body
 * (its mediaType field, else the shape), as src/upstream/client.ts does; undefined when sigward would refuse. */
function servedType(g: Generated): string | undefined {
  if (g.contentType !== undefined) return g.contentType;
  let o: unknown;
  try {
    o = JSON.parse(Buffer.from(g.bytes).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null) return undefined;
  const d = o as { mediaType?: unknown; manifests?: unknown; config?: unknown };
  if (typeof d.mediaType === 'string' && /^[a-z0-9][\w.+-]*\/[\w.+-]+$/i.test(d.mediaType)) return d.mediaType;
  if (Array.isArray(d.manifests)) return T.ociIndex;
  if (typeof d.config === 'object' && d.config !== null) return T.ociManifest;
  return undefined;
}

/** What a runtime could run from these bytes, one line per layer: empty when nothing. */
function dangers(r: GoReading): string[] {
  const out: string[] = [];
  if (r.containerd.accepted) {
    for (const l of r.containerd.layers)
      if (l.runnable)
        out.push(`containerd (${r.containerd.type}) unpacks layer ${l.mediaType || '(schema 1)'} ${l.digest}`);
  }
  if (r.podman.accepted) {
    for (const l of r.podman.layers)
      if (l.blob !== 'not-archive') out.push(`podman (${r.podman.type}) unpacks layer ${l.digest}: blob ${l.blob}`);
  }
  return out;
}

const show = (g: Generated): string =>
  `Content-Type ${g.contentType ?? '(none)'}, tag ${g.tag ?? '(digest)'}, indexPassThrough ${g.indexPassThrough}\n${Buffer.from(g.bytes).toString('utf8')}`;

/** The property for one case; returns the passage (for the coverage counts). */
async function check(g: Generated): Promise<Outcome> {
  const outcome = passage(g);
  const served = servedType(g);
  if (outcome === 'verdict' || outcome === 'refused' || served === undefined) return outcome;
  const found = dangers(await go.decode({ contentType: served, body: g.bytes, blobs: g.blobs }));
  assert.deepEqual(found, [], `served as '${outcome}' without a verdict, but:\n${found.join('\n')}\n${show(g)}`);
  return outcome;
}

// ---- fixed cases ----

const payload = readFileSync(new URL('../fixtures/connaisseur-key-signatures/payload-d8ee807d.json', import.meta.url));
const sigManifest = readFileSync(
  new URL('../fixtures/connaisseur-key-signatures/sig-manifest-071bf7a9.json', import.meta.url),
);
const SIG_TAG = 'sha256-071bf7a986f1ca9cb2a1f0bc8392822a7777f90d58f2d2c6f271913e08de7c81.sig';
const tarGz = gzipSync(makeTar({ 'bin/run': '#!/bin/sh\necho pwned\n' }));
const CONFIG = Buffer.from('{}');

const q = (s: string): string => JSON.stringify(s);
const desc = (mediaType: string, blob: Uint8Array): string =>
  obj([
    [q('mediaType'), q(mediaType)],
    [q('digest'), q(sha256(blob))],
    [q('size'), String(blob.length)],
  ]);
const blobsOf = (...bs: Uint8Array[]): Map<string, Uint8Array> => new Map(bs.map((b) => [sha256(b), b]));
const manifestText = (...members: [string, string][]): Buffer =>
  Buffer.from(obj([[q('schemaVersion'), '2'], ...members.map(([k, v]) => [k, v] as const)]), 'utf8');

function caseOf(
  bytes: Uint8Array,
  contentType: string | undefined,
  blobs: Map<string, Uint8Array>,
  extra: Partial<Generated> = {},
): Generated {
  return { bytes, contentType, tag: undefined, indexPassThrough: false, blobs, ...extra };
}

describe('reproduced bypasses: the Go runtimes would run them, sigward must not serve them without a verdict', () => {
  test('"layers" (a signature) then "Layers" (tar+gzip): containerd reads the last, folded key', async () => {
    const g = caseOf(
      manifestText(
        [q('mediaType'), q(T.ociManifest)],
        [q('config'), desc(T.ociConfig, CONFIG)],
        [q('layers'), arr([desc(T.simpleSigning, payload)])],
        [q('Layers'), arr([desc(T.tarGzip, tarGz)])],
      ),
      T.ociManifest,
      blobsOf(payload, tarGz, CONFIG),
    );
    const reading = await go.decode({ contentType: g.contentType, body: g.bytes, blobs: g.blobs });
    assert.deepEqual(dangers(reading), [
      `containerd (${T.ociManifest}) unpacks layer ${T.tarGzip} ${sha256(tarGz)}`,
      `podman (${T.ociManifest}) unpacks layer ${sha256(tarGz)}: blob archive`,
    ]);
    assert.equal(passage(g), 'refused');
  });

  test('a simple-signing layer whose blob is tar+gzip: podman sniffs the blob, not the type', async () => {
    const g = caseOf(
      manifestText(
        [q('mediaType'), q(T.ociManifest)],
        [q('config'), desc(T.ociConfig, CONFIG)],
        [q('layers'), arr([desc(T.simpleSigning, tarGz)])],
      ),
      T.ociManifest,
      blobsOf(tarGz, CONFIG),
    );
    const reading = await go.decode({ contentType: g.contentType, body: g.bytes, blobs: g.blobs });
    assert.deepEqual(dangers(reading), [`podman (${T.ociManifest}) unpacks layer ${sha256(tarGz)}: blob archive`]);
    assert.ok(['verdict', 'refused'].includes(passage(g)), `passage ${passage(g)}`);
  });

  test('index mediaType, a folded "MediaType" naming a manifest, real layers, under platforms: child', async () => {
    const g = caseOf(
      manifestText(
        [q('mediaType'), q(T.ociIndex)],
        [q('MediaType'), q(T.ociManifest)],
        [q('config'), desc(T.ociConfig, CONFIG)],
        [q('layers'), arr([desc(T.tarGzip, tarGz)])],
      ),
      T.ociManifest,
      blobsOf(tarGz, CONFIG),
      { indexPassThrough: true },
    );
    const reading = await go.decode({ contentType: g.contentType, body: g.bytes, blobs: g.blobs });
    assert.equal(reading.containerd.mediaType, T.ociManifest, 'Go reads the folded key, last');
    assert.ok(
      dangers(reading).some((d) => d.startsWith('containerd')),
      dangers(reading).join('\n'),
    );
    assert.equal(passage(g), 'refused');
  });
});

describe('controls', () => {
  test("a real cosign .sig manifest (connaisseur's, byte-exact) with its simple-signing blob passes as an attachment", async () => {
    const g = caseOf(sigManifest, T.ociManifest, blobsOf(payload), { tag: SIG_TAG });
    assert.equal(passage(g), 'attachment');
    const reading = await go.decode({ contentType: g.contentType, body: g.bytes, blobs: g.blobs });
    assert.deepEqual(dangers(reading), []);
    assert.deepEqual(
      reading.podman.layers.map((l) => l.blob),
      ['not-archive'],
    );
  });

  test('an ordinary image is not an attachment, and the oracle sees what it would run', async () => {
    const g = caseOf(
      manifestText(
        [q('mediaType'), q(T.ociManifest)],
        [q('config'), desc(T.ociConfig, CONFIG)],
        [q('layers'), arr([desc(T.tarGzip, tarGz)])],
      ),
      T.ociManifest,
      blobsOf(tarGz, CONFIG),
    );
    assert.equal(passage(g), 'verdict');
    assert.equal(dangers(await go.decode({ contentType: g.contentType, body: g.bytes, blobs: g.blobs })).length, 2);
  });

  test('a referrers tag-schema index passes as attachment-index; under platforms: child an index passes through', async () => {
    const child = Buffer.from('child');
    const index = Buffer.from(
      obj([
        [q('schemaVersion'), '2'],
        [q('mediaType'), q(T.ociIndex)],
        [q('manifests'), arr([desc(T.ociManifest, child)])],
      ]),
    );
    assert.equal(
      passage(caseOf(index, T.ociIndex, new Map(), { tag: `sha256-${'ab'.repeat(32)}` })),
      'attachment-index',
    );
    assert.equal(passage(caseOf(index, T.ociIndex, new Map(), { indexPassThrough: true })), 'index-pass-through');
    const reading = await go.decode({ contentType: T.ociIndex, body: index, blobs: new Map() });
    assert.deepEqual(reading.containerd.manifests, [{ mediaType: T.ociManifest, digest: sha256(child) }]);
    assert.deepEqual(dangers(reading), []);
  });

  test('the oracle reads a JSON payload laid out as a tar header as an archive, plain payloads as not', async () => {
    const poly = jsonTarPolyglot('x');
    JSON.parse(Buffer.from(poly).toString('utf8'));
    const blobs = blobsOf(poly, payload, makeBlob('text', 'x'));
    const body = manifestText(
      [q('config'), desc(T.ociConfig, CONFIG)],
      [q('layers'), arr([...blobs].map(([, b]) => desc(T.simpleSigning, b)))],
    );
    const reading = await go.decode({ contentType: T.ociManifest, body, blobs });
    assert.deepEqual(
      reading.podman.layers.map((l) => l.blob),
      ['archive', 'not-archive', 'not-archive'],
    );
  });
});

// ---- the property ----

/** Seeded runs without shrinking (the blobs are built while generating); a failure says the seed, the path that
 * replays it, and the readable counterexample from the assertion. */
async function assertProperty(property: fc.IAsyncProperty<[Generated]>, seed: number, numRuns: number): Promise<void> {
  const r = await fc.check(property, { seed, numRuns, endOnFailure: true });
  if (!r.failed) return;
  const why = r.errorInstance instanceof Error ? r.errorInstance.message : String(r.errorInstance);
  throw new Error(`property failed after ${r.numRuns} runs (seed ${seed}, path "${r.counterexamplePath}"):\n${why}`);
}

describe('generated documents (seeded)', () => {
  test(`nothing served without a verdict is runnable by containerd or podman (seed ${SEED}, ${RUNS} runs)`, async () => {
    const counts = new Map<Outcome, number>();
    await assertProperty(
      fc.asyncProperty(caseArb(), async (g) => {
        const outcome = await check(g);
        counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
      }),
      SEED,
      RUNS,
    );
    // The generator must keep reaching the interesting outcomes, or the property says nothing.
    const summary = JSON.stringify(Object.fromEntries(counts));
    for (const o of ['attachment', 'attachment-index', 'index-pass-through', 'verdict', 'refused'] as const) {
      assert.ok((counts.get(o) ?? 0) >= RUNS / 50, `too few '${o}' outcomes: ${summary}`);
    }
  });

  test(`where Go reads other layers, children or types than JSON.parse, sigward refuses (seed ${SEED + 1})`, async () => {
    await assertProperty(
      fc.asyncProperty(caseArb(), async (g) => {
        const served = servedType(g);
        if (served === undefined) return;
        const reading = await go.decode({ contentType: served, body: g.bytes, blobs: g.blobs });
        const differs = [reading.containerd, reading.podman].map((v) => differences(v, g.bytes)).flat();
        if (differs.length > 0)
          assert.equal(passage(g), 'refused', `Go reads otherwise (${differs.join('; ')}):\n${show(g)}`);
      }),
      SEED + 1,
      RUNS / 3,
    );
  });
});

/** Where an accepted Go view disagrees with JSON.parse on the fields sigward decides by. */
function differences(v: GoView, bytes: Uint8Array): string[] {
  if (!v.accepted || (v.kind !== 'manifest' && v.kind !== 'index')) return [];
  const js = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  const str = (x: unknown): string => (typeof x === 'string' ? x : '');
  const descs = (x: unknown): string =>
    JSON.stringify(
      Array.isArray(x)
        ? x.map((d) => [str((d as Record<string, unknown>)?.mediaType), str((d as Record<string, unknown>)?.digest)])
        : [],
    );
  const out: string[] = [];
  if (v.mediaType !== str(js.mediaType)) out.push(`mediaType ${q(v.mediaType)} vs ${q(str(js.mediaType))}`);
  if (v.kind === 'manifest') {
    const goLayers = JSON.stringify(v.layers.map((l) => [l.mediaType, l.digest]));
    if (goLayers !== descs(js.layers)) out.push(`layers ${goLayers} vs ${descs(js.layers)}`);
    const cfg = js.config as Record<string, unknown> | undefined;
    if (v.config && (v.config.digest !== str(cfg?.digest) || v.config.mediaType !== str(cfg?.mediaType)))
      out.push('config');
  } else {
    const goChildren = JSON.stringify(v.manifests.map((l) => [l.mediaType, l.digest]));
    if (goChildren !== descs(js.manifests)) out.push(`manifests ${goChildren} vs ${descs(js.manifests)}`);
  }
  return out;
}
