// Reading of manifest JSON as the runtimes read it: only the fields sigward acts on, each type-checked, and anything
// Go's decoder could read differently refused. Pure.
import { SigwardError } from '../errors.ts';
import { isDigest, type Digest } from './digest.ts';
import { parseStrictJson } from './json-strict.ts';
import { checkGoFieldNames } from './go-fields.ts';
import { isIndexType, MT } from './mediatypes.ts';

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly annotations: Readonly<Record<string, string>>;
  readonly artifactType?: string;
}

export interface ParsedManifest {
  readonly mediaType: string;
  readonly kind: DocumentKind;
  /** kind === 'index' */
  readonly isIndex: boolean;
  /** Image manifests: the layers. */
  readonly layers: readonly Descriptor[];
  /** Indexes: the child manifests. */
  readonly manifests: readonly Descriptor[];
  readonly config?: Descriptor;
  readonly subject?: Descriptor;
  readonly artifactType?: string;
  /** Every blob a client may fetch for it: config, layers, schema 1 fsLayers. */
  readonly blobs: readonly Digest[];
}

function descriptor(v: unknown, where: string): Descriptor {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(`${where} is not an object`);
  const o = v as Record<string, unknown>;
  if (typeof o.mediaType !== 'string') throw invalid(`${where}.mediaType is not a string`);
  if (typeof o.digest !== 'string' || !isDigest(o.digest))
    throw invalid(`${where}.digest is not a sha256/sha512 digest`);
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0)
    throw invalid(`${where}.size is not a size`);
  const annotations: Record<string, string> = {};
  if (o.annotations !== undefined && o.annotations !== null) {
    if (typeof o.annotations !== 'object' || Array.isArray(o.annotations))
      throw invalid(`${where}.annotations is not an object`);
    for (const [k, val] of Object.entries(o.annotations as Record<string, unknown>)) {
      if (typeof val !== 'string') throw invalid(`${where}.annotations.${k} is not a string`);
      annotations[k] = val;
    }
  }
  return {
    mediaType: o.mediaType,
    digest: o.digest,
    size: o.size,
    annotations,
    ...(typeof o.artifactType === 'string' ? { artifactType: o.artifactType } : {}),
  };
}

function invalid(msg: string): SigwardError {
  return new SigwardError('MANIFEST_INVALID', `manifest is malformed: ${msg}`, { reason: 'malformed manifest' });
}

/** What a document is, read the way the runtimes read it: the served media type decides, and a body that says (or
 * holds) something else is refused. `other`: a type sigward does not know, served only on a verdict. */
export type DocumentKind = 'image' | 'index' | 'schema1' | 'other';

const IMAGE_TYPES: readonly string[] = [MT.ociManifest, MT.dockerManifest];
const SCHEMA1_TYPES: readonly string[] = [MT.dockerV1, MT.dockerV1Signed];

function present(o: Record<string, unknown>, key: string): boolean {
  return o[key] !== undefined && o[key] !== null;
}

/** The kind of `o` served as `mediaType`. containerd picks the parser by the served type and then refuses a body of
 * the other kind; podman reads an unknown type as schema 1 (`fsLayers`). A document that both could read as different
 * kinds (an index with layers, a manifest with manifests, fsLayers beside layers) is refused. */
function kindOf(o: Record<string, unknown>, mediaType: string): DocumentKind {
  const has = {
    manifests: present(o, 'manifests'),
    layers: present(o, 'layers'),
    config: present(o, 'config'),
    fsLayers: present(o, 'fsLayers'),
  };
  const found = (Object.keys(has) as (keyof typeof has)[]).filter((k) => has[k]);
  const confused = (why: string): SigwardError =>
    new SigwardError(
      'MANIFEST_INVALID',
      `manifest is ambiguous: ${why} (it has ${found.join(', ') || 'no content lists'}); a runtime could read it as another kind, so it is refused`,
      {
        reason: 'ambiguous manifest kind',
      },
    );
  const manifestish = has.layers || has.config;
  if (has.manifests && (manifestish || has.fsLayers)) throw confused('it is an index and an image manifest at once');
  if (has.fsLayers && manifestish) throw confused('it has schema 1 fsLayers beside layers or config');
  if (isIndexType(mediaType)) {
    if (manifestish || has.fsLayers) throw confused(`its type is the index type ${mediaType} but it has image content`);
    return 'index';
  }
  if (IMAGE_TYPES.includes(mediaType)) {
    if (has.manifests || has.fsLayers)
      throw confused(`its type is the image manifest type ${mediaType} but it has other content`);
    return 'image';
  }
  if (SCHEMA1_TYPES.includes(mediaType)) {
    if (has.manifests || manifestish)
      throw confused(`its type is the schema 1 type ${mediaType} but it has other content`);
    return 'schema1';
  }
  if (mediaType === '') return has.manifests ? 'index' : manifestish ? 'image' : has.fsLayers ? 'schema1' : 'other';
  return 'other';
}

/** Schema 1 `fsLayers[].blobSum`: the blobs podman fetches for such a manifest. */
function fsLayers(v: unknown, maxEntries: number): Digest[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid('fsLayers is not a list');
  if (v.length > maxEntries)
    throw invalid(`fsLayers has ${v.length} entries (limit ${maxEntries}); refused, not walked`);
  return v.map((e, i) => {
    const sum = typeof e === 'object' && e !== null ? (e as Record<string, unknown>).blobSum : undefined;
    if (typeof sum !== 'string' || !isDigest(sum))
      throw invalid(`fsLayers[${i}].blobSum is not a sha256/sha512 digest`);
    return sum;
  });
}

/** Parse manifest bytes. `contentType` is the type the registry served it as (umoci manifests lack `mediaType`).
 * `maxEntries` caps layers/manifests so an absurd manifest is refused, not walked.
 * Read as Go's encoding/json reads it or refused (MANIFEST_INVALID): strict JSON (no duplicate keys, strict UTF-8),
 * no key that Go would fold onto a known field (go-fields.ts), a body `mediaType` equal to the served type, and one
 * kind only. */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined, maxEntries = 1000): ParsedManifest {
  const json = parseStrictJson(bytes);
  if (!json.ok) throw invalid(`it ${json.problem}`);
  const doc = json.value;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('top level is not an object');
  const o = doc as Record<string, unknown>;
  checkGoFieldNames(o);
  if (present(o, 'mediaType') && typeof o.mediaType !== 'string') throw invalid('mediaType is not a string');
  const bodyType = typeof o.mediaType === 'string' ? o.mediaType : undefined;
  if (bodyType !== undefined && contentType !== undefined && contentType !== '' && bodyType !== contentType) {
    throw new SigwardError(
      'MANIFEST_INVALID',
      `manifest is ambiguous: its body says mediaType ${bodyType} but it was served as ${contentType}; refused`,
      {
        reason: 'manifest type mismatch',
      },
    );
  }
  const mediaType = bodyType ?? contentType ?? '';
  const kind = kindOf(o, mediaType);
  const list = (key: 'layers' | 'manifests'): Descriptor[] => {
    const v = o[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw invalid(`${key} is not a list`);
    if (v.length > maxEntries)
      throw invalid(`${key} has ${v.length} entries (limit ${maxEntries}); refused, not walked`);
    return v.map((d, i) => descriptor(d, `${key}[${i}]`));
  };
  if (present(o, 'artifactType') && typeof o.artifactType !== 'string') throw invalid('artifactType is not a string');
  const layers = list('layers');
  const config = present(o, 'config') ? descriptor(o.config, 'config') : undefined;
  return {
    mediaType,
    kind,
    isIndex: kind === 'index',
    layers,
    manifests: list('manifests'),
    blobs: [
      ...(config === undefined ? [] : [config.digest]),
      ...layers.map((l) => l.digest),
      ...fsLayers(o.fsLayers, maxEntries),
    ],
    ...(config !== undefined ? { config } : {}),
    ...(present(o, 'subject') ? { subject: descriptor(o.subject, 'subject') } : {}),
    ...(typeof o.artifactType === 'string' ? { artifactType: o.artifactType } : {}),
  };
}
