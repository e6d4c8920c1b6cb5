// Minimal, defensive reading of manifest JSON: only the fields sigward acts on, each type-checked. Pure.
import { SigwardError } from '../errors.ts';
import { isDigest, type Digest } from './digest.ts';
import { isIndexType } from './mediatypes.ts';

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly annotations: Readonly<Record<string, string>>;
  readonly artifactType?: string;
}

export interface ParsedManifest {
  readonly mediaType: string;
  readonly isIndex: boolean;
  /** Image manifests: the layers. */
  readonly layers: readonly Descriptor[];
  /** Indexes: the child manifests. */
  readonly manifests: readonly Descriptor[];
  readonly config?: Descriptor;
  readonly artifactType?: string;
}

function descriptor(v: unknown, where: string): Descriptor {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(`${where} is not an object`);
  const o = v as Record<string, unknown>;
  if (typeof o.mediaType !== 'string') throw invalid(`${where}.mediaType is not a string`);
  if (typeof o.digest !== 'string' || !isDigest(o.digest)) throw invalid(`${where}.digest is not a sha256/sha512 digest`);
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) throw invalid(`${where}.size is not a size`);
  const annotations: Record<string, string> = {};
  if (o.annotations !== undefined && o.annotations !== null) {
    if (typeof o.annotations !== 'object' || Array.isArray(o.annotations)) throw invalid(`${where}.annotations is not an object`);
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
  return new SigwardError('MANIFEST_INVALID', `manifest is malformed: ${msg}`);
}

/** Parse manifest bytes. `contentType` is the type the registry served it as (umoci manifests lack `mediaType`).
 * `maxEntries` caps layers/manifests so an absurd manifest is refused, not walked. */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined, maxEntries = 1000): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw invalid('not valid UTF-8 JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('top level is not an object');
  const o = doc as Record<string, unknown>;
  const mediaType = typeof o.mediaType === 'string' ? o.mediaType : (contentType ?? '');
  const list = (key: 'layers' | 'manifests'): Descriptor[] => {
    const v = o[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw invalid(`${key} is not a list`);
    if (v.length > maxEntries) throw invalid(`${key} has ${v.length} entries (limit ${maxEntries}); refused, not walked`);
    return v.map((d, i) => descriptor(d, `${key}[${i}]`));
  };
  const isIndex = isIndexType(mediaType) || (mediaType === '' && Array.isArray(o.manifests));
  return {
    mediaType,
    isIndex,
    layers: list('layers'),
    manifests: list('manifests'),
    ...(o.config !== undefined && o.config !== null ? { config: descriptor(o.config, 'config') } : {}),
    ...(typeof o.artifactType === 'string' ? { artifactType: o.artifactType } : {}),
  };
}
