// The OCI image layout (image-spec image-layout.md) as `sigward save` writes it and `sigward load` reads it: an
// `oci-layout` file, `index.json` (an OCI index), and every blob and manifest under `blobs/<alg>/<hex>`, named by its
// digest. index.json lists what was saved, each entry annotated with what it is:
//   org.opencontainers.image.ref.name  the tag it had (`v1`, `sha256-<hex>.sig`, `sha256-<hex>`); none when by digest
//   dev.sigward.kind                   image | signature | attestation | sbom | referrer | referrers-index
//   dev.sigward.subject                the digest an attachment or referrer is about
//   dev.sigward.source                 where it was saved from (registry/repository)
import { join } from 'node:path';
import { digestAlgorithm, digestHex, type Digest } from '../oci/digest.ts';

export const LAYOUT_FILE = 'oci-layout';
export const LAYOUT_VERSION = '1.0.0';
export const INDEX_FILE = 'index.json';

export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
export const ANNOTATION_KIND = 'dev.sigward.kind';
export const ANNOTATION_SUBJECT = 'dev.sigward.subject';
export const ANNOTATION_SOURCE = 'dev.sigward.source';

export type EntryKind = 'image' | 'signature' | 'attestation' | 'sbom' | 'referrer' | 'referrers-index';

/** The kind of a cosign attachment tag's suffix. */
export const ATTACHMENT_KINDS: ReadonlyArray<readonly ['sig' | 'att' | 'sbom', EntryKind]> = [
  ['sig', 'signature'],
  ['att', 'attestation'],
  ['sbom', 'sbom'],
];

/** `blobs/<alg>/<hex>` below the layout directory. */
export function blobPath(dir: string, digest: Digest): string {
  return join(dir, 'blobs', digestAlgorithm(digest), digestHex(digest));
}

/** Bytes for messages: `1.5 MiB`. */
export function showBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i] ?? 'TiB'}`;
}

/** Reports bytes moved on stderr for transfers of at least `threshold` bytes: at most one line a second, and one at
 * the end. */
export class Progress {
  private done = 0;
  private lastShown = 0;

  constructor(
    private readonly total: number,
    private readonly say: (line: string) => void,
    private readonly threshold = 8 * 1024 * 1024,
    private readonly now: () => number = Date.now,
  ) {}

  add(bytes: number): void {
    this.done += bytes;
    if (this.total < this.threshold) return;
    const t = this.now();
    if (this.done < this.total && t - this.lastShown < 1000) return;
    this.lastShown = t;
    this.say(`${showBytes(this.done)} of ${showBytes(this.total)} (${Math.floor((100 * this.done) / this.total)}%)`);
  }
}
