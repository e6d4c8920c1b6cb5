// The request paths of the OCI distribution read API (spec.md, "Endpoints"), parsed from the END so that a
// repository may contain components such as `manifests` or `blobs`. Pure.
import { SigwardError } from '../errors.ts';
import { parseDigest, type Digest } from '../oci/digest.ts';
import { parseManifestReference, type ManifestReference } from '../oci/reference.ts';

export type V2Route =
  | { readonly kind: 'ping' }
  | { readonly kind: 'manifest'; readonly name: string; readonly ref: ManifestReference }
  | { readonly kind: 'blob'; readonly name: string; readonly digest: Digest }
  | { readonly kind: 'tags'; readonly name: string }
  | { readonly kind: 'referrers'; readonly name: string; readonly digest: Digest }
  | { readonly kind: 'upload'; readonly name: string };

/** `pathname` is the path after the host, e.g. `/v2/library/alpine/manifests/latest`. Returns undefined when the
 * path is not a distribution API path at all (answered 404 NOT_FOUND). */
export function parseV2Path(pathname: string): V2Route | undefined {
  if (pathname === '/v2' || pathname === '/v2/') return { kind: 'ping' };
  if (!pathname.startsWith('/v2/')) return undefined;
  const parts = pathname.slice(4).split('/');
  const n = parts.length;
  const at = (i: number): string => parts[i] ?? '';
  const nameBefore = (i: number): string => parts.slice(0, i).join('/');
  if (n >= 3 && at(n - 2) === 'manifests') {
    return { kind: 'manifest', name: nameBefore(n - 2), ref: parseManifestReference(decodeRef(at(n - 1))) };
  }
  if (n >= 3 && at(n - 2) === 'tags' && at(n - 1) === 'list') return { kind: 'tags', name: nameBefore(n - 2) };
  if (n >= 3 && at(n - 2) === 'referrers')
    return { kind: 'referrers', name: nameBefore(n - 2), digest: parseDigest(decodeRef(at(n - 1))) };
  // uploads: /v2/<name>/blobs/uploads/ and /v2/<name>/blobs/uploads/<uuid>
  const up = parts.lastIndexOf('uploads');
  if (up >= 2 && at(up - 1) === 'blobs' && up >= n - 2) return { kind: 'upload', name: nameBefore(up - 1) };
  if (n >= 3 && at(n - 2) === 'blobs')
    return { kind: 'blob', name: nameBefore(n - 2), digest: parseDigest(decodeRef(at(n - 1))) };
  return undefined;
}

/** Only `%3A` (an encoded ':') is tolerated in references; any other escape is invalid grammar anyway. */
function decodeRef(s: string): string {
  return s.replace(/%3[aA]/g, ':');
}

export function methodNotAllowed(method: string): SigwardError {
  return new SigwardError(
    'UNSUPPORTED',
    `sigward is a read-only proxy: ${method} is not supported (push to the upstream registry directly)`,
  );
}
