// Which manifests sigward may serve WITHOUT a satisfied policy, as one pure function. The rule: only what no runtime
// can run anything from, read the way the runtimes read it.
//   attachment          an image manifest whose every layer is a signature/attestation/SBOM document, proven from
//                       the layer bytes (verify/attachment.ts); no filesystem can be built from it
//   attachment-index    an index fetched by a referrers tag-schema tag (`sha256-<hex>`): a list of pointers, each
//                       gated on its own when fetched
//   index-pass-through  an index under `platforms: child`: likewise pointers only
// Everything else waits for the policy's verdict. parseManifest refuses (MANIFEST_INVALID) any bytes that Go's
// decoder could read as another document (folded or duplicate keys, index-and-manifest, type disagreements), so the
// "is an index" and "every layer" seen here are what containerd and podman see.
import { isAttachmentTag } from '../oci/cosign-tags.ts';
import { parseManifest, type ParsedManifest } from '../oci/manifest.ts';
import { attachmentProblem } from '../verify/attachment.ts';

export type Passage = 'attachment' | 'attachment-index' | 'index-pass-through' | 'verdict';

/** A referrers tag-schema index (fetched by its `sha256-<hex>` tag): pointers only, each gated when fetched. */
export function isReferrersTagIndex(parsed: ParsedManifest, tag: string | undefined): boolean {
  return parsed.isIndex && tag !== undefined && isAttachmentTag(tag);
}

/** The passage for an already parsed manifest; `layerBlobs` are its layers' blobs by digest (for attachments). */
export function passageOf(
  parsed: ParsedManifest,
  tag: string | undefined,
  indexPassThrough: boolean,
  layerBlobs: ReadonlyMap<string, Uint8Array>,
): Passage {
  if (isReferrersTagIndex(parsed, tag)) return 'attachment-index';
  if (parsed.isIndex) {
    return indexPassThrough ? 'index-pass-through' : 'verdict';
  }
  return attachmentProblem(parsed, layerBlobs) === undefined ? 'attachment' : 'verdict';
}

/** How sigward may serve these manifest bytes: without a verdict (the first three) or only after the policy's
 * verdict. Throws SigwardError('MANIFEST_INVALID') for bytes the runtimes could read differently. */
export function unverifiedPassage(input: {
  readonly bytes: Uint8Array;
  readonly contentType: string | undefined;
  readonly tag?: string;
  readonly indexPassThrough: boolean;
  readonly layerBlobs: ReadonlyMap<string, Uint8Array>;
}): Passage {
  return passageOf(parseManifest(input.bytes, input.contentType), input.tag, input.indexPassThrough, input.layerBlobs);
}
