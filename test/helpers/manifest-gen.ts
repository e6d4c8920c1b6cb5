// Generators of manifest bytes that JavaScript's JSON.parse and Go's encoding/json may read differently, for the
// gate's differential test. Documents are written as raw JSON text so that duplicate keys survive: keys in other
// case, in forms Go folds onto ASCII (U+017F 'ſ' -> s, U+212A Kelvin sign -> k), \u-escaped, and duplicated (exactly
// or folded) at every level; index and manifest kinds mixed; Content-Type agreeing with the body or not; layer blobs
// that are the documents their types name, or archives, or neither.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { simpleSigningPayload } from '../../src/sign/payload.ts';
import { makeTar } from './tar.ts';
import { at } from './must.ts';

export const T = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  schema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  simpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  dsse: 'application/vnd.dsse.envelope.v1+json',
  bundle: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  inToto: 'application/vnd.in-toto+json',
  tarGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

const SIGNATURE_LAYER_TYPES = [
  T.simpleSigning,
  T.dsse,
  T.bundle,
  'application/vnd.dev.sigstore.bundle+json;version=0.3',
  T.inToto,
  'application/spdx+json',
  'text/spdx',
];
const TAR_LAYER_TYPES = [
  'application/vnd.oci.image.layer.v1.tar',
  T.tarGzip,
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
];
const UNKNOWN_LAYER_TYPES = [
  'application/vnd.example.unknown',
  'application/octet-stream',
  'application/vnd.oci.image.layer.v1.tar+foo',
  'text/plain',
  '',
];
const DOC_TYPES = [T.ociManifest, T.ociIndex, T.dockerManifest, T.dockerList];

export const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const q = (s: string): string => JSON.stringify(s);
const fixture = (p: string): Buffer => readFileSync(new URL(`../fixtures/${p}`, import.meta.url));
const BUNDLE = fixture('cosign-v3-sign-bundle/bundle.sigstore.json');

// ---- blobs ----

export type BlobKind =
  | 'simple-signing'
  | 'dsse'
  | 'bundle'
  | 'in-toto'
  | 'tar'
  | 'tar+gzip'
  | 'gzip-json'
  | 'text'
  | 'json-tar'
  | 'zstd-magic';
const DOCUMENT_FOR: Record<string, BlobKind> = {
  [T.simpleSigning]: 'simple-signing',
  [T.dsse]: 'dsse',
  [T.inToto]: 'in-toto',
  'application/spdx+json': 'in-toto',
  'text/spdx': 'text',
};

/** A blob of `kind`; `salt` makes distinct blobs (distinct digests). */
export function makeBlob(kind: BlobKind, salt: string): Uint8Array {
  const payload = (): Uint8Array =>
    simpleSigningPayload({
      dockerReference: 'example.test/app',
      digest: sha256(Buffer.from(salt)),
      optional: salt === '' ? null : { salt },
    });
  switch (kind) {
    case 'simple-signing':
      return payload();
    case 'dsse':
      return Buffer.from(
        JSON.stringify({
          payloadType: T.inToto,
          payload: Buffer.from(`{"_type":"${salt}"}`).toString('base64'),
          signatures: [{ keyid: '', sig: 'c2ln' }],
        }),
      );
    case 'bundle':
      return salt === '' ? BUNDLE : Buffer.from(JSON.stringify({ ...JSON.parse(BUNDLE.toString()), salt }));
    case 'in-toto':
      return Buffer.from(
        JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [], predicateType: salt, predicate: {} }),
      );
    case 'tar':
      return makeTar({ [`bin/run${salt.replace(/[^a-z0-9]/gi, '')}`]: '#!/bin/sh\necho pwned\n' });
    case 'tar+gzip':
      return gzipSync(makeTar({ [`bin/run${salt.replace(/[^a-z0-9]/gi, '')}`]: '#!/bin/sh\necho pwned\n' }));
    case 'gzip-json':
      return gzipSync(payload());
    case 'text':
      return Buffer.from(
        `SPDXVersion: SPDX-2.3\nDocumentComment: ${[...salt].filter((c) => c.charCodeAt(0) >= 0x20).join('')}\n`,
      );
    case 'json-tar':
      return jsonTarPolyglot(salt);
    case 'zstd-magic':
      return Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.from(salt)]);
  }
}

/** A simple-signing payload that Go's archive/tar also reads as a tar header: the 512-byte block's numeric fields
 * (mode … checksum) fall inside a JSON string of octal digits and spaces, and the checksum field holds the block's
 * checksum. Printable ASCII throughout, so it is valid JSON and UTF-8 text too. */
export function jsonTarPolyglot(salt: string): Uint8Array {
  const prefix = '{"optional":{"p":"';
  const pad = (n: number, c: string): string => c.repeat(n);
  const clean = salt.replace(/[^a-z0-9]/gi, '');
  // Offsets in the block: name 0-99, mode 100, uid 108, gid 116, size 124, mtime 136, chksum 148, typeflag 156.
  let s =
    prefix + (clean + pad(100, 'a')).slice(0, 100 - prefix.length) + pad(48, '0') + '        ' + '0' + pad(355, 'b');
  const block = Buffer.from(s.slice(0, 512), 'latin1');
  let sum = 0;
  for (const b of block) sum += b;
  s = s.slice(0, 148) + sum.toString(8).padStart(6, '0') + '  ' + s.slice(156);
  const rest =
    '"},"critical":{"identity":{"docker-reference":"example.test/app"},"image":{"docker-manifest-digest":"sha256:' +
    pad(64, '0') +
    '"},"type":"cosign container image signature"}}';
  return Buffer.from(s + rest, 'latin1');
}

// ---- raw JSON with chosen key spellings ----

export type Spelling = 'exact' | 'case' | 'upper' | 'long-s' | 'kelvin' | 'escaped' | 'escaped-fold';
const SPELLINGS: readonly Spelling[] = ['case', 'upper', 'long-s', 'kelvin', 'escaped', 'escaped-fold'];
const esc = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
const flipFirst = (n: string): string =>
  (n[0] === n[0]?.toUpperCase() ? at(n, 0).toLowerCase() : at(n, 0).toUpperCase()) + n.slice(1);

/** The raw (quoted) JSON text of key `name` spelt `how`. Fold forms fall back to a case change when the name has no
 * s or k; `escaped` is the same key for every parser, the others are the same key only for Go. */
export function spell(name: string, how: Spelling): string {
  const folded = name.replace(/s/g, 'ſ').replace(/k/g, 'K');
  switch (how) {
    case 'exact':
      return q(name);
    case 'case':
      return q(flipFirst(name));
    case 'upper':
      return q(name.toUpperCase());
    case 'long-s':
      return q(name.includes('s') ? name.replace(/s/g, 'ſ') : flipFirst(name));
    case 'kelvin':
      return q(name.includes('k') ? name.replace(/k/g, 'K') : name.toUpperCase());
    case 'escaped':
      return `"${esc(at(name, 0))}${name.slice(1)}"`;
    case 'escaped-fold':
      return folded === name
        ? `"${esc(at(flipFirst(name), 0))}${name.slice(1)}"`
        : `"${[...folded].map((c) => (c === 'ſ' || c === 'K' ? esc(c) : c)).join('')}"`;
  }
}

/** One member of an object: its raw key text and raw value text. */
type Member = readonly [string, string];
export const obj = (ms: readonly Member[]): string => `{${ms.map(([k, v]) => `${k}:${v}`).join(',')}}`;
export const arr = (vs: readonly string[]): string => `[${vs.join(',')}]`;

/** How much ambiguity a generated document carries: the odds of a key spelt other than exactly, and of a second
 * member for a field. Chosen per document, so that clean documents (the ones the gate may let through) are common. */
export interface Noise {
  readonly respell: number;
  readonly duplicate: number;
}
const NOISE: Record<'clean' | 'light' | 'heavy', Noise> = {
  clean: { respell: 0, duplicate: 0 },
  light: { respell: 1 / 60, duplicate: 1 / 100 },
  heavy: { respell: 1 / 10, duplicate: 1 / 8 },
};

/** `a` with probability p (in whole 1/1000ths), else `b`. */
function maybe<A, B>(p: number, a: fc.Arbitrary<A>, b: fc.Arbitrary<B>): fc.Arbitrary<A | B> {
  const w = Math.round(p * 1000);
  if (w <= 0) return b;
  return fc.oneof({ arbitrary: a, weight: w }, { arbitrary: b, weight: 1000 - w });
}

interface Field {
  readonly name: string;
  readonly value: fc.Arbitrary<string>;
  /** Probability weight of leaving the field out (0: always present). */
  readonly omit?: number;
}

/** An object of `fields`, each mostly spelt exactly, sometimes with a second member for the same field (another
 * spelling or the exact one again, before or after, with its own value). */
function object(noise: Noise, fields: readonly Field[]): fc.Arbitrary<string> {
  const spelling = maybe<Spelling, Spelling>(noise.respell, fc.constantFrom(...SPELLINGS), fc.constant('exact'));
  const member = (f: Field): fc.Arbitrary<Member[]> => {
    const dup = maybe(
      noise.duplicate,
      fc.record({ how: fc.constantFrom<Spelling>('exact', ...SPELLINGS), value: f.value, before: fc.boolean() }),
      fc.constant(null),
    );
    const one = fc.record({ how: spelling, value: f.value, dup }).map(({ how, value, dup: d }) => {
      const main: Member = [spell(f.name, how), value];
      if (d === null) return [main];
      const other: Member = [spell(f.name, d.how), d.value];
      return d.before ? [other, main] : [main, other];
    });
    return f.omit
      ? fc.oneof({ arbitrary: fc.constant<Member[]>([]), weight: f.omit }, { arbitrary: one, weight: 10 })
      : one;
  };
  return fc.tuple(...fields.map(member)).map((ms) => obj(ms.flat()));
}

// ---- descriptors and documents ----

export interface Generated {
  readonly bytes: Uint8Array;
  readonly contentType: string | undefined;
  readonly tag: string | undefined;
  readonly indexPassThrough: boolean;
  readonly blobs: ReadonlyMap<string, Uint8Array>;
}

const CONFIG_BYTES = Buffer.from('{}');

/** The parts of one document, built with one noise level; every layer blob joins `blobs` (the upstream serves every
 * blob any descriptor names). */
function parts(noise: Noise, blobs: Map<string, Uint8Array>) {
  const platform = object(noise, [
    { name: 'architecture', value: fc.constantFrom('amd64', 'arm64').map(q) },
    { name: 'os', value: fc.constantFrom('linux', 'windows').map(q) },
  ]);
  // The other digest a descriptor may name (or name twice): a real layer the upstream serves.
  const evil = makeBlob('tar+gzip', 'evil');
  blobs.set(sha256(evil), evil);
  /** A descriptor whose own mediaType/digest may be duplicated or folded (with another type or digest). */
  const descriptor = (
    mediaType: string,
    digest: string,
    size: number,
    otherType: fc.Arbitrary<string>,
  ): fc.Arbitrary<string> =>
    object(noise, [
      { name: 'mediaType', value: fc.oneof({ arbitrary: fc.constant(mediaType), weight: 4 }, otherType).map(q) },
      {
        name: 'digest',
        value: fc.oneof({ arbitrary: fc.constant(digest), weight: 4 }, fc.constant(sha256(evil))).map(q),
      },
      { name: 'size', value: fc.constant(String(size)) },
      {
        name: 'annotations',
        value: maybe(noise.duplicate, fc.constant('{"a":"1","a":"2"}'), fc.constant('{"org.example":"x"}')),
        omit: 3,
      },
      { name: 'platform', value: platform, omit: 8 },
    ]);
  const sigType = fc.constantFrom(...SIGNATURE_LAYER_TYPES);
  const layerChoice = fc.oneof(
    { arbitrary: sigType.map((t) => ({ t, kind: DOCUMENT_FOR[t] ?? 'bundle' })), weight: 6 },
    {
      arbitrary: fc.record({
        t: sigType,
        kind: fc.constantFrom<BlobKind>(
          'tar',
          'tar+gzip',
          'gzip-json',
          'json-tar',
          'zstd-magic',
          'text',
          'simple-signing',
        ),
      }),
      weight: 2,
    },
    {
      arbitrary: fc.record({
        t: fc.constantFrom(...TAR_LAYER_TYPES, ...UNKNOWN_LAYER_TYPES),
        kind: fc.constantFrom<BlobKind>('tar', 'tar+gzip', 'simple-signing', 'text'),
      }),
      weight: 2,
    },
  );
  const layer = fc.tuple(layerChoice, fc.string({ maxLength: 6 })).chain(([{ t, kind }, salt]) => {
    const blob = makeBlob(kind, salt);
    const digest = sha256(blob);
    blobs.set(digest, blob);
    return descriptor(t, digest, blob.length, fc.constantFrom(...TAR_LAYER_TYPES, ...SIGNATURE_LAYER_TYPES));
  });
  const child = fc
    .tuple(fc.constantFrom(T.ociManifest, T.dockerManifest, T.ociIndex), fc.string({ maxLength: 4 }))
    .chain(([t, salt]) =>
      descriptor(t, sha256(Buffer.from(`child ${salt}`)), 100 + salt.length, fc.constantFrom(...DOC_TYPES)),
    );
  const layers = fc.array(layer, { minLength: 1, maxLength: 3 });
  return {
    layers: layers.map(arr),
    fsLayers: layers.map((ls) =>
      arr(
        ls.flatMap((raw) =>
          [...raw.matchAll(/"(sha256:[0-9a-f]{64})"/g)].slice(0, 1).map((m) => obj([[q('blobSum'), q(at(m, 1))]])),
        ),
      ),
    ),
    manifests: fc.array(child, { minLength: 1, maxLength: 2 }).map(arr),
    config: descriptor(
      T.ociConfig,
      sha256(CONFIG_BYTES),
      CONFIG_BYTES.length,
      fc.constantFrom(T.tarGzip, 'application/vnd.example.config'),
    ),
    subject: descriptor(T.ociManifest, sha256(Buffer.from('subject')), 7, fc.constantFrom(T.ociIndex)),
  };
}

/** A whole generated case: mostly attachments and indexes (the shapes the gate lets through), with mixed kinds,
 * Content-Types, tags and ambiguity at every level. */
export function caseArb(): fc.Arbitrary<Generated> {
  const setup = fc.record({
    noise: fc.constantFrom(NOISE.clean, NOISE.clean, NOISE.light, NOISE.heavy),
    kind: fc.constantFrom('manifest', 'manifest', 'manifest', 'index', 'index', 'both'),
  });
  return setup.chain(({ noise, kind }) => {
    const blobs = new Map<string, Uint8Array>([[sha256(CONFIG_BYTES), CONFIG_BYTES]]);
    const p = parts(noise, blobs);
    const docType =
      kind === 'index'
        ? fc.constantFrom(T.ociIndex, T.dockerList)
        : kind === 'manifest'
          ? fc.constantFrom(T.ociManifest, T.dockerManifest)
          : fc.constantFrom(...DOC_TYPES);
    const fields = (dt: string): Field[] => [
      { name: 'schemaVersion', value: fc.constantFrom('2', '2', '1'), omit: 1 },
      {
        name: 'mediaType',
        value: fc
          .oneof({ arbitrary: fc.constant(dt), weight: 8 }, fc.constantFrom(...DOC_TYPES, T.schema1Signed))
          .map(q),
        omit: 2,
      },
      ...(kind !== 'index'
        ? [
            { name: 'config', value: p.config },
            { name: 'layers', value: p.layers },
          ]
        : []),
      ...(kind !== 'manifest' ? [{ name: 'manifests', value: p.manifests }] : []),
      // The other kind's fields, and schema 1's, now and then.
      { name: 'layers', value: p.layers, omit: 200 },
      { name: 'manifests', value: p.manifests, omit: 200 },
      { name: 'fsLayers', value: p.fsLayers, omit: 200 },
      { name: 'subject', value: p.subject, omit: 6 },
    ];
    return docType.chain((dt) =>
      fc
        .record({
          body: object(noise, fields(dt)),
          contentType: fc.oneof(
            { arbitrary: fc.constant(dt), weight: 5 },
            fc.constant(undefined),
            fc.constantFrom(...DOC_TYPES, T.schema1Signed),
          ),
          tag: fc.constantFrom(undefined, 'latest', `sha256-${'ab'.repeat(32)}`, `sha256-${'ab'.repeat(32)}.sig`),
          indexPassThrough: fc.boolean(),
        })
        .map(({ body, contentType, tag, indexPassThrough }) => ({
          bytes: Buffer.from(body, 'utf8'),
          contentType,
          tag,
          indexPassThrough,
          blobs,
        })),
    );
  });
}
