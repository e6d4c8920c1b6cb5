// The `route` label of a request: a fixed set, never the repository, tag or digest in the path. Classified from the
// path's end the way http/path.ts parses it (names may contain `manifests` or `blobs` segments; only the API's last
// segments count). A path that http/ refuses as bad grammar still gets the route its shape names.

export const ROUTES = [
  'manifest',
  'blob',
  'tags',
  'referrers',
  'v2',
  'sget',
  'healthz',
  'readyz',
  'metrics',
  'other',
] as const;
export type RouteLabel = (typeof ROUTES)[number];

const MANIFEST = /^\/v2\/.+\/manifests\/[^/]+$/;
const BLOB = /^\/v2\/.+\/blobs\/[^/]+$/;
const TAGS = /^\/v2\/.+\/tags\/list$/;
const REFERRERS = /^\/v2\/.+\/referrers\/[^/]+$/;

export function routeOf(url: string): RouteLabel {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path.startsWith('/v2/')) {
    if (path === '/v2/') return 'v2';
    if (MANIFEST.test(path)) return 'manifest';
    // `…/blobs/uploads` is the push API, which sigward refuses: other.
    if (BLOB.test(path)) return path.endsWith('/blobs/uploads') ? 'other' : 'blob';
    if (TAGS.test(path)) return 'tags';
    if (REFERRERS.test(path)) return 'referrers';
    return 'other';
  }
  if (path.startsWith('/sget/')) return 'sget';
  switch (path) {
    case '/v2':
      return 'v2';
    case '/healthz':
      return 'healthz';
    case '/readyz':
      return 'readyz';
    case '/metrics':
      return 'metrics';
    default:
      return 'other';
  }
}
