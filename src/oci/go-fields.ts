// Manifest JSON as the runtimes' decoder reads it. containerd, podman/CRI-O, skopeo and docker decode manifests with
// Go's encoding/json into structs, which (unlike JSON.parse) matches an object key to a struct field
// case-insensitively, with Unicode simple case folding (U+017F LATIN SMALL LETTER LONG S folds to `s`, U+212A KELVIN
// SIGN to `k`), and lets the last of several matching keys win. `{"layers":[A],"Layers":[B]}` is A to JSON.parse and
// B to containerd. Nothing real writes such keys, so sigward refuses them instead of guessing: a key that Go would fold
// onto a field sigward knows must be spelled exactly as that field, and at most once. Checked at every struct level
// of a manifest, an index and a schema 1 manifest; map-typed members (annotations) are exact in Go and only their
// exact duplicates matter (the strict JSON reader refuses those everywhere). Pure.
import { SigwardError } from '../errors.ts';

/** A Go struct: its JSON field names, and the struct (or list of structs) each member holds, if any. */
interface StructShape {
  readonly fields: readonly string[];
  readonly children?: Readonly<Record<string, StructShape>>;
  /** Members that hold a list of this shape. */
  readonly lists?: Readonly<Record<string, StructShape>>;
}

// Field names: OCI image-spec specs-go v1 (Descriptor, Platform, Manifest, Index), distribution's schema2 and
// manifestlist, and schema1 (fsLayers, history, signatures). A union is used where kinds share a top level, so a
// folded `Manifests` in an image manifest is refused as well (it would make containerd see an index).
const PLATFORM: StructShape = { fields: ['architecture', 'os', 'os.version', 'os.features', 'variant', 'features'] };
const DESCRIPTOR: StructShape = {
  fields: ['mediaType', 'digest', 'size', 'urls', 'annotations', 'data', 'platform', 'artifactType'],
  children: { platform: PLATFORM },
};
const TOP: StructShape = {
  fields: [
    'schemaVersion',
    'mediaType',
    'artifactType',
    'config',
    'layers',
    'manifests',
    'subject',
    'annotations',
    // schema 1
    'name',
    'tag',
    'architecture',
    'fsLayers',
    'history',
    'signatures',
  ],
  children: { config: DESCRIPTOR, subject: DESCRIPTOR },
  lists: {
    layers: DESCRIPTOR,
    manifests: DESCRIPTOR,
    fsLayers: { fields: ['blobSum'] },
    history: { fields: ['v1Compatibility'] },
  },
};

/** Go's folded form of a key (encoding/json foldName): ASCII letters upper-cased, every other rune replaced by the
 * smallest rune of its simple-fold orbit. Only the two runes whose orbit holds an ASCII letter can make a key match
 * an ASCII field name in Go; other runes are upper-cased (which may also map a few, such as U+0131, onto ASCII: those
 * keys are refused too, which errs on the safe side). */
export function goFoldKey(key: string): string {
  // A printable ASCII key (every key of a real manifest) folds in one native upper-casing; the loop is for the rest.
  if (!NON_ASCII.test(key)) return key.toUpperCase();
  let out = '';
  for (const ch of key) {
    if (ch === '\u017f') out += 'S';
    else if (ch === '\u212a') out += 'K';
    else out += ch.toUpperCase();
  }
  return out;
}

/** Anything but printable ASCII (space to tilde). */
const NON_ASCII = /[^ -~]/;

const foldIndex = new WeakMap<StructShape, ReadonlyMap<string, string>>();

function foldsOf(shape: StructShape): ReadonlyMap<string, string> {
  let m = foldIndex.get(shape);
  if (m === undefined) {
    m = new Map(shape.fields.map((f) => [goFoldKey(f), f]));
    foldIndex.set(shape, m);
  }
  return m;
}

function refuse(msg: string): SigwardError {
  return new SigwardError(
    'MANIFEST_INVALID',
    `manifest is ambiguous: ${msg}; Go's decoder (containerd, podman) would read it differently from sigward, so it is refused`,
    {
      reason: 'ambiguous manifest JSON',
    },
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkStruct(o: Record<string, unknown>, shape: StructShape, where: string): void {
  const folds = foldsOf(shape);
  for (const key of Object.keys(o)) {
    const field = folds.get(goFoldKey(key));
    if (field === undefined) continue; // Go ignores members that match no field.
    // Exact duplicates never get here (the strict reader refuses them), so one spelling per field is left.
    if (key !== field)
      throw refuse(
        `${where} has the key ${JSON.stringify(key)}, which Go's case-insensitive matching reads as the field "${field}"`,
      );
    const v = o[key];
    const child = shape.children?.[field];
    if (child !== undefined && isObject(v)) checkStruct(v, child, `${where}.${field}`);
    const item = shape.lists?.[field];
    if (item !== undefined && Array.isArray(v)) {
      v.forEach((e, i) => {
        if (isObject(e)) checkStruct(e, item, `${where}.${field}[${i}]`);
      });
    }
  }
}

/** Throws MANIFEST_INVALID when a manifest/index document (already parsed by the strict reader, so without exact
 * duplicate keys) has a member Go would fold onto a known field, at any struct level. */
export function checkGoFieldNames(doc: Record<string, unknown>): void {
  checkStruct(doc, TOP, 'the manifest');
}
