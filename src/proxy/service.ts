// The /v2/ services: manifests, blobs, tags and referrers, for one resolved target (upstream + repository). Each
// returns an answer for http/answer.ts to write (never writes HTTP itself) and throws SigwardError to refuse.
import { SigwardError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import { isIndexType } from '../oci/mediatypes.ts';
import { imageRef, type ManifestReference } from '../oci/reference.ts';
import type { Logger } from '../log.ts';
import { API_VERSION_HEADER, type Answer, type RequestNotes } from './answer.ts';
import { blobHeaders, redirectAnswer, relayBlob, type BlobCache } from './blobs.ts';
import { failStaticWarning, isVerifiedDecision, outageOf, type KeptVerified } from './fail-static.ts';
import type { Admission, SignatureGate } from './gate.ts';
import { parsedManifest } from './parsed-manifest.ts';
import type { ManifestService } from './manifests.ts';
import type { ReferencedBlobs } from './referenced-blobs.ts';
import type { Target } from './target.ts';
import type { BlobClientProvider, BlobStream, FetchedManifest, ListAnswer } from './types.ts';

export function manifestHeaders(m: FetchedManifest): Record<string, string> {
  return {
    'Docker-Distribution-API-Version': API_VERSION_HEADER['Docker-Distribution-API-Version'],
    'Content-Type': m.mediaType,
    'Docker-Content-Digest': m.digest,
    'Content-Length': String(m.size),
    ETag: `"${m.digest}"`,
  };
}

function acceptable(m: FetchedManifest, accept: ReadonlySet<string>): boolean {
  return accept.size === 0 || accept.has('*/*') || accept.has(m.mediaType);
}

/** Distribution answers 404 when the manifest's type is not acceptable to the client; do the same, but say why. */
export function checkAcceptable(
  m: FetchedManifest,
  accept: ReadonlySet<string>,
  target: Target,
  ref: ManifestReference,
): void {
  if (acceptable(m, accept)) return;
  // Old clients that only know Docker v2 single manifests cannot use an index: tell them which type it is.
  const kind = isIndexType(m.mediaType) ? 'a multi-platform index' : 'a manifest';
  const image = imageRef(target.upstream.host, target.repository, ref);
  throw new SigwardError(
    'MANIFEST_UNKNOWN',
    `${image} is ${kind} of type ${m.mediaType}, which this client's Accept header does not include`,
  );
}

export interface ManifestRequest {
  readonly target: Target;
  readonly ref: ManifestReference;
  /** The media types the client accepts (empty: any). */
  readonly accept: ReadonlySet<string>;
  readonly notes: RequestNotes;
}

export interface BlobRequest {
  readonly target: Target;
  readonly digest: Digest;
  readonly method: 'GET' | 'HEAD';
  /** The client's Range header, passed on to the upstream. */
  readonly range: string | undefined;
  readonly notes: RequestNotes;
}

export interface ListRequest {
  readonly target: Target;
  /** The URL the client asked: its query (n, last, artifactType) and the path that pagination links point back to. */
  readonly url: URL;
}

export class ProxyService {
  constructor(
    private readonly deps: {
      clients: BlobClientProvider;
      manifests: ManifestService;
      log: Logger;
      /** The signature gate: refuses before anything is fetched when nothing of the repository can pass
       * (preflight), then decides whether a fetched manifest may be served (admit). */
      gate: Pick<SignatureGate, 'preflight' | 'admit' | 'policyHash'>;
      /** Manifests served verified, kept across restarts (state/kept.ts): recorded here, and served again under
       * an upstream's `failStatic` while it is down. Absent: neither. */
      kept?: KeptVerified;
      /** Counts fail-static answers (metrics). */
      failStaticServed?: (upstream: string) => void;
      /** `blobs: { serve: referenced }`: the blobs of manifests served; others are refused. Absent: every blob. */
      referenced?: ReferencedBlobs;
      /** The store that upstreams with `blobs: cache` keep their blobs in (sget/blob-cache.ts). */
      blobCache?: BlobCache;
    },
  ) {}

  async manifest(q: ManifestRequest): Promise<Answer> {
    const { target, ref, notes } = q;
    const { gate, kept } = this.deps;
    gate.preflight(target, ref);
    if (kept !== undefined && !kept.loaded) await kept.ready;
    const client = this.deps.clients.get(target.upstream.host);
    const policyHash = gate.policyHash;
    let m: FetchedManifest | undefined;
    let admission: Admission;
    try {
      m = await this.deps.manifests.get(client, target.upstream.host, target.repository, ref, q.accept);
      notes.digest = m.digest;
      admission = await gate.admit(target, m, ref, notes.id);
    } catch (e) {
      // When the upstream did answer (only the signature lookup failed), fail-static may serve that digest only.
      const stale = await this.failStatic(q, e, policyHash, m?.digest);
      if (stale !== undefined) return stale;
      throw e;
    }
    notes.outcome = admission.outcome;
    const place = {
      host: target.upstream.host,
      repository: target.repository,
      tag: ref.kind === 'tag' ? ref.tag : undefined,
    };
    // Kept for restarts and fail-static only when verified, and under the policy it was decided by; any other
    // decision under that policy forgets what was kept for the tag and the digest (no rollback to an older image).
    const verified =
      admission.kind === 'verdict' && isVerifiedDecision(admission.decision) && gate.policyHash === policyHash;
    if (!verified && gate.policyHash === policyHash) kept?.servedNotVerified(place, m.digest, policyHash);
    if (admission.kind === 'refused') throw admission.refusal;
    checkAcceptable(m, q.accept, target, ref);
    if (verified && admission.kind === 'verdict') kept?.servedVerified(place, m, admission.decision, policyHash);
    this.deps.referenced?.add(target.upstream.host, target.repository, parsedManifest(m).blobs);
    const headers = manifestHeaders(m);
    if (admission.kind === 'passage') return { kind: 'bytes', status: 200, headers, body: m.bytes };
    return {
      kind: 'bytes',
      status: 200,
      headers,
      body: m.bytes,
      // The policy, outcome and signers it is served under (X-Sigward-*): `sigward verify --registry-url` reports them.
      decision: { decision: admission.decision, named: true },
    };
  }

  /** The upstream is down and opted into fail-static: the manifest `ref` named when it was last served verified
   * under this policy within the window, from the kept bytes, with a Warning. Undefined: fail as without it. */
  private async failStatic(
    q: ManifestRequest,
    e: unknown,
    policyHash: string,
    answered: Digest | undefined,
  ): Promise<Answer | undefined> {
    const { target, ref, notes } = q;
    const windowMs = target.upstream.failStaticMs;
    const kept = this.deps.kept;
    if (windowMs === undefined || kept === undefined) return undefined;
    const outage = outageOf(e);
    if (outage === undefined) return undefined;
    const host = target.upstream.host;
    const image = imageRef(host, target.repository, ref);
    const found = await kept.lastVerified(host, target.repository, ref, policyHash, kept.now() - windowMs);
    if (
      found === undefined ||
      !acceptable(found.manifest, q.accept) ||
      (answered !== undefined && found.manifest.digest !== answered)
    ) {
      // info: the access line already says 503; this says why fail-static did not answer.
      this.deps.log.info(
        { reqId: notes.id, image, err: outage.message },
        'upstream unavailable and nothing served verified within its failStatic window under this policy: failing closed',
      );
      return undefined;
    }
    const { manifest: m, served } = found;
    notes.digest = m.digest;
    notes.outcome = 'fail-static';
    this.deps.log.warn(
      { reqId: notes.id, image, digest: m.digest, verifiedAt: new Date(served.at).toISOString(), err: outage.message },
      'upstream unavailable: serving the manifest sigward last served verified (failStatic)',
    );
    this.deps.failStaticServed?.(host);
    const headers: Record<string, string> = {
      ...manifestHeaders(m),
      Warning: failStaticWarning(host, served.at),
      'X-Sigward-Policy': served.policyName.replace(/[^\x20-\x7e]/g, '?'),
      'X-Sigward-Outcome': 'fail-static',
    };
    if (served.signers.length > 0)
      headers['X-Sigward-Signers'] = served.signers.join(', ').replace(/[^\x20-\x7e]/g, '?');
    return { kind: 'bytes', status: 200, headers, body: m.bytes };
  }

  async blob(q: BlobRequest): Promise<Answer> {
    const { target, digest, notes } = q;
    const client = this.deps.clients.get(target.upstream.host);
    notes.digest = digest;
    const referenced = this.deps.referenced;
    if (referenced !== undefined) {
      await referenced.ready;
      if (!referenced.has(target.upstream.host, target.repository, digest)) {
        notes.outcome = 'blob-not-referenced';
        throw new SigwardError(
          'DENIED',
          `blob ${digest} of ${target.upstream.host}/${target.repository} is not listed by any manifest sigward has served from this repository, and blobs.serve is referenced: pull the image (by tag or digest) through sigward first, then its blobs are served`,
          { reason: 'blob not referenced by an allowed manifest' },
        );
      }
    }
    const mode = target.upstream.blobs ?? 'relay';
    const cache = mode === 'cache' ? this.deps.blobCache : undefined;
    const stored = await cache?.serve(digest, q.method, q.range);
    if (stored !== undefined) {
      notes.outcome = 'stored';
      return stored;
    }
    if (q.method === 'HEAD') {
      const h = await client.headBlob(target.repository, digest);
      const headers: Record<string, string> = {
        ...API_VERSION_HEADER,
        'Docker-Content-Digest': digest,
        'Content-Type': h.headers['content-type'] ?? 'application/octet-stream',
        'Accept-Ranges': 'bytes',
      };
      if (h.size !== undefined) headers['Content-Length'] = String(h.size);
      return { kind: 'bytes', status: 200, headers };
    }
    const range = q.range === undefined ? {} : { range: q.range };
    let blob: BlobStream;
    if (mode === 'redirect') {
      // Asked with sigward's credentials; a redirect to the upstream's storage goes to the client as it came.
      const got = await client.locateBlob(target.repository, digest, range);
      if ('location' in got) {
        notes.outcome = 'redirected';
        return redirectAnswer(digest, got);
      }
      blob = got;
    } else blob = await client.getBlob(target.repository, digest, range);
    const onMismatch = (err: SigwardError): void => {
      notes.error = err;
      client.countFailure(err);
      this.deps.log.warn(
        { reqId: notes.id, image: `${target.upstream.host}/${target.repository}`, digest, err: err.message },
        'upstream blob digest mismatch',
      );
    };
    const tap = cache !== undefined && blob.status === 200 ? await cache.tap(digest, blob.size) : undefined;
    return {
      kind: 'stream',
      status: blob.status,
      headers: blobHeaders(digest, blob.headers, blob.size),
      relay: async (sink) => {
        const outcome = await relayBlob(sink, blob, digest, onMismatch, tap);
        notes.outcome = outcome.verified ? 'verified' : blob.status === 206 ? 'range' : 'incomplete';
      },
    };
  }

  async tags(q: ListRequest): Promise<Answer> {
    const client = this.deps.clients.get(q.target.upstream.host);
    const query: { n?: string; last?: string } = {};
    const n = q.url.searchParams.get('n');
    const last = q.url.searchParams.get('last');
    if (n !== null) query.n = n;
    if (last !== null) query.last = last;
    return listAnswer(q, await client.getTags(q.target.repository, query));
  }

  async referrers(q: ListRequest & { readonly digest: Digest }): Promise<Answer> {
    const client = this.deps.clients.get(q.target.upstream.host);
    const at = q.url.searchParams.get('artifactType') ?? undefined;
    return listAnswer(q, await client.getReferrers(q.target.repository, q.digest, at));
  }
}

function listAnswer(q: ListRequest, a: ListAnswer): Answer {
  const headers: Record<string, string> = {
    ...API_VERSION_HEADER,
    'Content-Type': a.contentType ?? 'application/json',
    'Content-Length': String(a.bytes.length),
  };
  if (a.link) headers.Link = rewriteLink(a.link, q.target.repository, q.url);
  return { kind: 'bytes', status: a.status, headers, body: a.bytes };
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
    const suffix = u.pathname.startsWith(`/v2/${repository}/`)
      ? u.pathname.slice(`/v2/${repository}/`.length)
      : 'tags/list';
    const base = requestUrl.pathname.replace(/(tags\/list|referrers\/[^/]+)$/, '');
    const q = new URLSearchParams(u.search);
    const ns = requestUrl.searchParams.get('ns');
    if (ns) q.set('ns', ns);
    const qs = q.toString();
    return `<${base}${suffix}${qs ? `?${qs}` : ''}>`;
  });
}
