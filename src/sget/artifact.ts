// Which blob of an artifact sget hands out. `cosign upload blob`, oras and wasm pushes store one
// file as the only layer of an OCI manifest; with several layers the client names one by its title annotation
// (`org.opencontainers.image.title`, the file name oras records). Pure.
import { SigwardError } from '../errors.ts';
import { clip } from '../util/clip.ts';
import { type Digest } from '../oci/digest.ts';
import type { Descriptor, ParsedManifest } from '../oci/manifest.ts';

export const TITLE_ANNOTATION = 'org.opencontainers.image.title';

export interface ArtifactFile {
  readonly digest: Digest;
  /** Unknown only for a bare blob digest whose upstream sends no Content-Length. */
  readonly size: number | undefined;
  readonly mediaType: string;
  readonly title: string | undefined;
}

function titleOf(d: Descriptor): string | undefined {
  const t = d.annotations[TITLE_ANNOTATION];
  return t === undefined || t === '' ? undefined : t;
}

function describe(layers: readonly Descriptor[]): string {
  return layers
    .map(
      (l, i) =>
        `  ${titleOf(l) === undefined ? `(layer ${i}, untitled)` : JSON.stringify(titleOf(l))}  ${l.digest}  ${l.size} bytes`,
    )
    .join('\n');
}

/** The one layer to download, or CONFLICT / NOT_FOUND telling the client what there is to choose from. */
export function selectFile(m: ParsedManifest, image: string, file: string | undefined): ArtifactFile {
  if (m.isIndex) {
    const list = m.manifests.map((d) => `  ${d.digest}  ${d.mediaType}`).join('\n');
    throw new SigwardError(
      'CONFLICT',
      `${image} is an index of ${m.manifests.length} manifests, not a single artifact; download one of them by digest (/sget/<host>/<repository>@<digest>):\n${list}`,
      { reason: 'artifact is an index: pick a manifest' },
    );
  }
  const layers = m.layers;
  if (layers.length === 0)
    throw new SigwardError('CONFLICT', `${image} has no layers, so it holds no file to download`, {
      reason: 'artifact has no layers',
    });
  let chosen: Descriptor | undefined;
  if (file === undefined) {
    if (layers.length > 1) {
      throw new SigwardError(
        'CONFLICT',
        `${image} holds ${layers.length} files; name one with ?file=<title>:\n${describe(layers)}`,
        {
          reason: 'several files: add ?file=<title>',
          detail: { titles: layers.map(titleOf).filter((t) => t !== undefined) },
        },
      );
    }
    chosen = layers[0];
  } else {
    const matches = layers.filter((l) => titleOf(l) === file);
    if (matches.length > 1) {
      throw new SigwardError(
        'CONFLICT',
        `${image} has ${matches.length} layers titled ${JSON.stringify(clip(file))}; sget cannot tell which one is meant`,
      );
    }
    chosen = matches[0];
    if (chosen === undefined) {
      throw new SigwardError(
        'NOT_FOUND',
        `${image} has no file titled ${JSON.stringify(clip(file))}; it holds:\n${describe(layers)}`,
        {
          reason: 'no such file in the artifact',
          detail: { titles: layers.map(titleOf).filter((t) => t !== undefined) },
        },
      );
    }
  }
  const l = chosen as Descriptor;
  return { digest: l.digest, size: l.size, mediaType: l.mediaType, title: titleOf(l) };
}
