// Where cosign puts signatures (../shared/docs/cosign-formats.md §1.1, §7.4): the `.sig`/`.att`/`.sbom` tags derived
// from the signed digest, and the referrers tag schema (`sha256-<hex>`, no suffix). Pure.
import type { Digest } from './digest.ts';
import { MT } from './mediatypes.ts';
import type { ParsedManifest } from './manifest.ts';

/** `sha256:<hex>` -> `sha256-<hex>` */
export function digestTagBase(d: Digest): string {
  return d.replace(':', '-');
}

export function signatureTag(d: Digest): string {
  return `${digestTagBase(d)}.sig`;
}

/** The OCI 1.1 referrers tag schema fallback: an index tagged with the subject digest. */
export function referrersTag(d: Digest): string {
  return digestTagBase(d);
}

const ATTACHMENT_TAG_RE = /^(sha256-[a-f0-9]{64}|sha512-[a-f0-9]{128})(\.(sig|att|sbom))?$/;

/** Tags that name cosign attachments or a referrers index rather than an image. */
export function isAttachmentTag(tag: string): boolean {
  return ATTACHMENT_TAG_RE.test(tag);
}

/** Layer media types that only ever hold signatures, attestations or bundles: nothing a runtime can execute. */
const ATTACHMENT_LAYER_TYPES = [MT.cosignSimpleSigning, MT.dsseEnvelope];

/** A manifest whose every layer is a signature/attestation/bundle: such artifacts are served without a signature of
 * their own, so cosign and other verifiers can work through sigward. It has at least one layer. */
export function isAttachmentManifest(m: ParsedManifest): boolean {
  if (m.isIndex || m.layers.length === 0) return false;
  return m.layers.every((l) => ATTACHMENT_LAYER_TYPES.includes(l.mediaType as (typeof ATTACHMENT_LAYER_TYPES)[number]) || l.mediaType.startsWith(MT.sigstoreBundlePrefix));
}
