// The request shapes of the verified-download endpoint. Pure.
//   /sget/<host>/<repo>@<digest>          an artifact by manifest digest (the digest is the trust anchor)
//   /sget/<host>/<repo>:<tag>             an artifact by tag (resolved to a digest, whose signature must verify)
//   /sget/<host>/<repo>/blobs/<digest>    one blob by its own digest
// The registry host is always named: a download URL should say where its bytes come from.
import { SigwardError } from '../errors.ts';
import { clip } from '../util/clip.ts';
import { parseDigest, type Digest } from '../oci/digest.ts';
import { looksLikeHost, parseTag, type ManifestReference } from '../oci/reference.ts';

export type SgetRoute =
  | { readonly kind: 'artifact'; readonly name: string; readonly ref: ManifestReference }
  | { readonly kind: 'blob'; readonly name: string; readonly digest: Digest };

export const SGET_USAGE =
  'use /sget/<registry host>/<repository>:<tag>, /sget/<registry host>/<repository>@sha256:<hex> or /sget/<registry host>/<repository>/blobs/sha256:<hex>';

/** `rest` is the path after `/sget/`, still percent-encoded as the client sent it. */
export function parseSgetPath(rest: string): SgetRoute {
  // Clients may encode '@' and ':'; nothing else needs escaping in this grammar.
  const path = rest.replace(/%40/gi, '@').replace(/%3a/gi, ':');
  const parts = path.split('/');
  const n = parts.length;
  if (n >= 4 && parts[n - 2] === 'blobs') {
    return { kind: 'blob', name: checkName(parts.slice(0, n - 2), path), digest: parseDigest(parts[n - 1] ?? '') };
  }
  const last = parts[n - 1] ?? '';
  const at = last.indexOf('@');
  if (at >= 0) {
    parts[n - 1] = last.slice(0, at);
    return {
      kind: 'artifact',
      name: checkName(parts, path),
      ref: { kind: 'digest', digest: parseDigest(last.slice(at + 1)) },
    };
  }
  const colon = last.lastIndexOf(':');
  if (colon < 0 || n < 2) {
    throw new SigwardError('NOT_FOUND', `/sget/${clip(path)} names no tag or digest: ${SGET_USAGE}`);
  }
  parts[n - 1] = last.slice(0, colon);
  return { kind: 'artifact', name: checkName(parts, path), ref: { kind: 'tag', tag: parseTag(last.slice(colon + 1)) } };
}

function checkName(parts: string[], path: string): string {
  if (parts.length < 2 || !looksLikeHost(parts[0] ?? '') || parts.some((p) => p === '')) {
    throw new SigwardError(
      'NOT_FOUND',
      `/sget/${clip(path)} does not start with a registry host and a repository: ${SGET_USAGE}`,
    );
  }
  return parts.join('/');
}
