// The proxy handlers: manifests, blobs, tags and referrers, for one resolved target (upstream + repository).
import { SigwardError } from '../errors.ts';
import { isIndexType } from '../oci/mediatypes.ts';
import { API_VERSION_HEADER, writeBytes } from '../http/respond.ts';
import type { ProxyHandlers, RouteRequest } from '../http/routes.ts';
import type { Target } from '../http/routing.ts';
import type { Logger } from '../log.ts';
import { streamBlob } from './blobs.ts';
import type { HashThread } from './hash-thread.ts';
import { parsedManifest } from './parsed-manifest.ts';
import type { ManifestService } from './manifests.ts';
import type { ReferencedBlobs } from './referenced-blobs.ts';
import type { FetchedManifest, ListAnswer, RegistryClient } from './types.ts';

export interface ClientProvider {
  get(host: string): RegistryClient;
}

export function manifestHeaders(m: FetchedManifest): Record<string, string> {
  return {
    'Docker-Distribution-API-Version': API_VERSION_HEADER['Docker-Distribution-API-Version'],
    'Content-Type': m.mediaType,
    'Docker-Content-Digest': m.digest,
    'Content-Length': String(m.size),
    ETag: `"${m.digest}"`,
  };
}

/** Distribution answers 404 when the manifest's type is not acceptable to the client; do the same, but say why. */
export function checkAcceptable(m: FetchedManifest, accept: ReadonlySet<string>, image: string): void {
  if (accept.size === 0 || accept.has('*/*') || accept.has(m.mediaType)) return;
  // Old clients that only know Docker v2 single manifests cannot use an index: tell them which type it is.
  const kind = isIndexType(m.mediaType) ? 'a multi-platform index' : 'a manifest';
  throw new SigwardError('MANIFEST_UNKNOWN', `${image} is ${kind} of type ${m.mediaType}, which this client's Accept header does not include`);
}

export class ProxyService implements ProxyHandlers {
  constructor(
    private readonly deps: {
      clients: ClientProvider;
      manifests: ManifestService;
      /** Where big blobs are hashed (a second core). */
      hashing: Pick<HashThread, 'hasher'>;
      log: Logger;
      /** Decides whether a fetched manifest may be served (the signature gate). Throws DENIED to refuse. */
      admit: (req: RouteRequest, target: Target, m: FetchedManifest) => Promise<void>;
      /** Refuses before anything is fetched when no manifest of this repository can pass (throws DENIED). */
      preflight: (target: Target, ref: import('../oci/reference.ts').ManifestReference) => void;
      /** `blobs: { serve: referenced }`: the blobs of manifests served; others are refused. Absent: every blob. */
      referenced?: ReferencedBlobs;
    },
  ) {}

  async manifest(req: RouteRequest, route: { ref: import('../oci/reference.ts').ManifestReference }, target: Target): Promise<void> {
    this.deps.preflight(target, route.ref);
    const client = this.deps.clients.get(target.upstream.host);
    const m = await this.deps.manifests.get(client, target.upstream.host, target.repository, route.ref, req.accept);
    req.state.digest = m.digest;
    await this.deps.admit(req, target, m);
    checkAcceptable(m, req.accept, req.state.image ?? target.repository);
    this.deps.referenced?.add(target.upstream.host, target.repository, parsedManifest(m).blobs);
    writeBytes(req.res, 200, manifestHeaders(m), m.bytes, req.method);
  }

  async blob(req: RouteRequest, route: { digest: import('../oci/digest.ts').Digest }, target: Target): Promise<void> {
    const client = this.deps.clients.get(target.upstream.host);
    req.state.digest = route.digest;
    const referenced = this.deps.referenced;
    if (referenced !== undefined) {
      await referenced.ready;
      if (!referenced.has(target.upstream.host, target.repository, route.digest)) {
        req.state.outcome = 'blob-not-referenced';
        throw new SigwardError(
          'DENIED',
          `blob ${route.digest} of ${target.upstream.host}/${target.repository} is not listed by any manifest sigward has served from this repository, and blobs.serve is referenced: pull the image (by tag or digest) through sigward first, then its blobs are served`,
          { reason: 'blob not referenced by an allowed manifest' },
        );
      }
    }
    if (req.method === 'HEAD') {
      const h = await client.headBlob(target.repository, route.digest);
      const headers: Record<string, string> = {
        ...API_VERSION_HEADER,
        'Docker-Content-Digest': route.digest,
        'Content-Type': h.headers['content-type'] ?? 'application/octet-stream',
        'Accept-Ranges': 'bytes',
      };
      if (h.size !== undefined) headers['Content-Length'] = String(h.size);
      writeBytes(req.res, 200, headers, undefined, 'HEAD');
      return;
    }
    const range = req.headers.range;
    const blob = await client.getBlob(target.repository, route.digest, range === undefined ? {} : { range });
    const outcome = await streamBlob(req.res, blob, route.digest, (err) => {
      req.state.error = err;
      this.deps.log.warn({ reqId: req.state.id, image: req.state.image, digest: route.digest, err: err.message }, 'upstream blob digest mismatch');
    }, this.deps.hashing);
    req.state.outcome = outcome.verified ? 'verified' : blob.status === 206 ? 'range' : 'incomplete';
  }

  async tags(req: RouteRequest, _route: unknown, target: Target): Promise<void> {
    const client = this.deps.clients.get(target.upstream.host);
    const q: { n?: string; last?: string } = {};
    const n = req.url.searchParams.get('n');
    const last = req.url.searchParams.get('last');
    if (n !== null) q.n = n;
    if (last !== null) q.last = last;
    this.writeList(req, target, await client.getTags(target.repository, q));
  }

  async referrers(req: RouteRequest, route: { digest: import('../oci/digest.ts').Digest }, target: Target): Promise<void> {
    const client = this.deps.clients.get(target.upstream.host);
    const at = req.url.searchParams.get('artifactType') ?? undefined;
    this.writeList(req, target, await client.getReferrers(target.repository, route.digest, at));
  }

  private writeList(req: RouteRequest, target: Target, a: ListAnswer): void {
    const headers: Record<string, string> = {
      ...API_VERSION_HEADER,
      'Content-Type': a.contentType ?? 'application/json',
      'Content-Length': String(a.bytes.length),
    };
    if (a.link) headers.Link = rewriteLink(a.link, target.repository, req.url);
    writeBytes(req.res, a.status, headers, a.bytes, req.method);
  }
}

/** Pagination links name the upstream path; point them back at the path the client used (prefix and ns kept). */
export function rewriteLink(link: string, repository: string, requestUrl: URL): string {
  return link.replace(/<([^>]*)>/, (_all, target: string) => {
    let u: URL;
    try {
      u = new URL(target, 'http://upstream.invalid');
    } catch {
      return '<>';
    }
    const suffix = u.pathname.startsWith(`/v2/${repository}/`) ? u.pathname.slice(`/v2/${repository}/`.length) : 'tags/list';
    const base = requestUrl.pathname.replace(/(tags\/list|referrers\/[^/]+)$/, '');
    const q = new URLSearchParams(u.search);
    const ns = requestUrl.searchParams.get('ns');
    if (ns) q.set('ns', ns);
    const qs = q.toString();
    return `<${base}${suffix}${qs ? `?${qs}` : ''}>`;
  });
}
