// Reads an OCI image layout for `sigward load` and checks all of it before anything is pushed: the oci-layout
// version, index.json, every manifest reachable from it (children of indexes, config and layers of images), each
// file's size and digest (blobs hashed as they are read). Anything missing or that does not match its digest refuses
// the whole layout. Manifests come out children first, the order a registry accepts them in.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SigwardError } from '../errors.ts';
import { digestAlgorithm, digestOf, type Digest } from '../oci/digest.ts';
import { parseManifest, type Descriptor } from '../oci/manifest.ts';
import { MT } from '../oci/mediatypes.ts';
import { INDEX_FILE, LAYOUT_FILE, LAYOUT_VERSION, blobPath } from './layout.ts';

export interface LayoutManifest {
  readonly digest: Digest;
  readonly mediaType: string;
  readonly bytes: Uint8Array;
}

export interface LayoutBlob {
  readonly digest: Digest;
  readonly size: number;
  readonly file: string;
}

export interface Layout {
  /** index.json's entries, as listed. */
  readonly entries: readonly Descriptor[];
  /** Every manifest, children before the indexes that list them. */
  readonly manifests: readonly LayoutManifest[];
  readonly blobs: readonly LayoutBlob[];
}

/** Nesting of indexes a layout may have (an index of indexes of images is already unusual). */
const MAX_DEPTH = 8;
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export async function readLayout(dir: string, onBytes: (n: number) => void = () => undefined): Promise<Layout> {
  const layoutText = await readFile(join(dir, LAYOUT_FILE), 'utf8').catch(() => undefined);
  let version: unknown;
  try {
    version =
      layoutText === undefined
        ? undefined
        : (JSON.parse(layoutText) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
  } catch {
    version = undefined;
  }
  if (version !== LAYOUT_VERSION) {
    throw corrupt(
      dir,
      layoutText === undefined
        ? `it has no ${LAYOUT_FILE} file; is it an OCI image layout (sigward save --dir)?`
        : `${LAYOUT_FILE} does not say imageLayoutVersion ${LAYOUT_VERSION}`,
    );
  }
  const indexBytes = await readFile(join(dir, INDEX_FILE)).catch(() => {
    throw corrupt(dir, `it has no ${INDEX_FILE}`);
  });
  let entries: readonly Descriptor[];
  try {
    const index = parseManifest(indexBytes, MT.ociIndex);
    if (!index.isIndex) throw new Error('not an index');
    entries = index.manifests;
  } catch (e) {
    throw corrupt(dir, `${INDEX_FILE} is not an OCI index: ${(e as Error).message}`);
  }
  const manifests = new Map<Digest, LayoutManifest>();
  const blobs = new Map<Digest, LayoutBlob>();

  const visit = async (d: Descriptor, depth: number, from: string): Promise<void> => {
    if (manifests.has(d.digest)) return;
    if (depth > MAX_DEPTH) throw corrupt(dir, `indexes are nested more than ${MAX_DEPTH} deep at ${d.digest}`);
    const bytes = await readChecked(dir, d, from, MAX_MANIFEST_BYTES);
    let parsed;
    try {
      parsed = parseManifest(bytes, d.mediaType);
    } catch (e) {
      throw corrupt(dir, `manifest ${d.digest} (${from}) is not usable: ${(e as Error).message}`);
    }
    if (parsed.kind === 'schema1')
      throw corrupt(dir, `manifest ${d.digest} is a Docker schema 1 manifest; not supported`);
    for (const child of parsed.manifests) await visit(child, depth + 1, `listed by ${d.digest}`);
    for (const b of [...(parsed.config === undefined ? [] : [parsed.config]), ...parsed.layers]) {
      if (blobs.has(b.digest)) continue;
      blobs.set(b.digest, { digest: b.digest, size: b.size, file: await hashFile(dir, b, `of ${d.digest}`, onBytes) });
    }
    manifests.set(d.digest, { digest: d.digest, mediaType: parsed.mediaType || d.mediaType, bytes });
  };
  for (const e of entries) await visit(e, 0, INDEX_FILE);
  return { entries, manifests: [...manifests.values()], blobs: [...blobs.values()] };
}

async function readChecked(dir: string, d: Descriptor, from: string, cap: number): Promise<Uint8Array> {
  const file = blobPath(dir, d.digest);
  if (d.size > cap) throw corrupt(dir, `manifest ${d.digest} (${from}) is ${d.size} bytes, over ${cap}`);
  const bytes = await readFile(file).catch(() => {
    throw corrupt(dir, `manifest ${d.digest} (${from}) is missing: no ${rel(dir, file)}`);
  });
  const got = digestOf(bytes, digestAlgorithm(d.digest));
  if (bytes.length !== d.size || got !== d.digest) {
    throw corrupt(dir, `${rel(dir, file)} does not match its digest (${bytes.length} bytes hashing to ${got})`);
  }
  return new Uint8Array(bytes);
}

/** Hash a blob file; returns its path when size and digest match. */
async function hashFile(dir: string, d: Descriptor, from: string, onBytes: (n: number) => void): Promise<string> {
  const file = blobPath(dir, d.digest);
  const st = await stat(file).catch(() => {
    throw corrupt(dir, `blob ${d.digest} (${from}) is missing: no ${rel(dir, file)}`);
  });
  if (st.size !== d.size) {
    throw corrupt(dir, `${rel(dir, file)} is ${st.size} bytes, but ${d.size} are listed for it (${from})`);
  }
  const hash = createHash(digestAlgorithm(d.digest));
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    onBytes((chunk as Buffer).length);
  }
  const got = `${digestAlgorithm(d.digest)}:${hash.digest('hex')}`;
  if (got !== d.digest) throw corrupt(dir, `${rel(dir, file)} does not match its digest (it hashes to ${got})`);
  return file;
}

function rel(dir: string, file: string): string {
  return file.startsWith(`${dir}/`) ? file.slice(dir.length + 1) : file;
}

function corrupt(dir: string, why: string): SigwardError {
  return new SigwardError('CONFIG_INVALID', `layout ${dir} refused, nothing was pushed: ${why}`);
}
