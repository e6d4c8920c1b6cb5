// Where cosign puts signatures (cosign's pkg/oci/remote: SignatureTag and friends; the OCI 1.1 referrers tag
// schema): the `.sig`/`.att`/`.sbom` tags derived
// from the signed digest, and the referrers tag schema (`sha256-<hex>`, no suffix). Pure.
import type { Digest } from './digest.ts';

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
