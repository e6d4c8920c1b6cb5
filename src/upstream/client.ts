// The read side of the OCI distribution API against one configured upstream (distribution-spec spec.md, "Pull",
// "Content discovery"). Manifests are read whole under a cap and their digest is computed over the exact bytes
// received; blobs are handed back as a stream for the caller to hash; lists are capped.
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Limits, UpstreamConfig } from '../config/types.ts';
import { SigwardError } from '../errors.ts';
import { digestOf, isDigest, matchesDigest, type Digest } from '../oci/digest.ts';
import { baseMediaType, MANIFEST_TYPES, MT } from '../oci/mediatypes.ts';
import { referenceString, type ManifestReference } from '../oci/reference.ts';
import { UpstreamAuthState, type OnRequest } from './auth.ts';
import { contentLength, flatHeaders, header, release } from './body.ts';
import { UpstreamBoundary } from './boundary.ts';
import { watchBodies } from './body-watch.ts';
import { connectionError, upstreamMessage } from './status.ts';
import { isRedirectStatus, Transport, type BufferedResponse, type UpstreamRequest } from './transport.ts';
import type { CacheObserver, UpstreamObserver } from '../metrics/observers.ts';

export interface UpstreamClientDeps {
  readonly dispatcher: Dispatcher;
  /** The resolved password of `cfg.auth` (basic), if any. */
  readonly password?: string;
  readonly limits: Limits;
  readonly now?: () => number;
  readonly onRequest?: OnRequest;
  /** Metrics: this upstream's requests and failures, its token cache. */
  readonly observer?: UpstreamObserver;
  readonly tokenCache?: CacheObserver;
}

export interface FetchedManifest {
  readonly bytes: Uint8Array;
  readonly digest: Digest;
  readonly mediaType: string;
  readonly size: number;
}

export interface ManifestGetOptions {
  readonly accept?: ReadonlySet<string>;
  readonly signal?: AbortSignal;
  /**
   * By tag: the manifest the same request was last answered with. Its digest goes upstream as If-None-Match, and a
   * 304 returns this very object (the upstream still resolves the tag; it only skips re-sending unchanged bytes).
   */
  readonly known?: FetchedManifest;
}

export interface ManifestHead {
  readonly digest?: Digest;
  readonly mediaType?: string;
  readonly size?: number;
}

export interface BlobStream {
  readonly status: 200 | 206;
  /** Response headers, lowercase names. */
  readonly headers: Record<string, string>;
  readonly size?: number;
  readonly body: Readable;
}

/** A blob the upstream answered with a redirect to another origin (its storage, a CDN), not followed. */
export interface BlobRedirect {
  readonly status: number;
  /** The absolute URL the upstream pointed at (may hold a storage signature in its query: never logged). */
  readonly location: URL;
}

export interface BlobGetOptions {
  readonly range?: string;
  readonly signal?: AbortSignal;
}

export interface ListAnswer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly bytes: Uint8Array;
  readonly link?: string;
  /** The OCI error code of a 404 answered as a list (e.g. NAME_UNKNOWN). */
  readonly upstreamCode?: string;
}

/** How long a missing referrers API is remembered per upstream. */
export const REFERRERS_ABSENT_MS = 5 * 60_000;

/** A media type as it may appear in Accept (no parameters, no header syntax): anything else is not forwarded. */
const MEDIA_TYPE_RE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9*][a-z0-9!#$&^_.+*-]*$/;

const STANDARD_ACCEPT = MANIFEST_TYPES.join(', ');
const acceptHeaders = new WeakMap<ReadonlySet<string>, string>();

/** Every type sigward handles plus the client's extra well-formed ones (remembered per Accept set: see acceptOf). */
function acceptHeader(client: ReadonlySet<string> | undefined): string {
  if (client === undefined) return STANDARD_ACCEPT;
  let h = acceptHeaders.get(client);
  if (h === undefined) {
    const all = new Set(MANIFEST_TYPES);
    for (const t of client) if (MEDIA_TYPE_RE.test(t)) all.add(t);
    h = [...all].join(', ');
    acceptHeaders.set(client, h);
  }
  return h;
}

/** Encode one path segment; ':' is legal in a segment (RFC 3986 pchar) and digests keep it readable. */
const seg = (s: string): string => encodeURIComponent(s).replace(/%3A/gi, ':');
const encodedRepos = new Map<string, string>();
/** A repository's path segments, encoded once per repository (every request names one; emptied when full). */
function repoPath(repository: string): string {
  let p = encodedRepos.get(repository);
  if (p === undefined) {
    p = repository.split('/').map(seg).join('/');
    if (encodedRepos.size >= ENCODED_REPOS) encodedRepos.clear();
    encodedRepos.set(repository, p);
  }
  return p;
}
const ENCODED_REPOS = 1024;

export class UpstreamClient {
  readonly cfg: UpstreamConfig;
  readonly auth: UpstreamAuthState;
  private readonly transport: Transport;
  private readonly limits: Limits;
  private readonly now: () => number;
  private readonly dispatcher: Dispatcher;
  private referrersAbsentUntil = 0;

  constructor(cfg: UpstreamConfig, deps: UpstreamClientDeps) {
    this.cfg = cfg;
    this.limits = deps.limits;
    this.now = deps.now ?? Date.now;
    this.dispatcher = deps.dispatcher;
    const basic =
      cfg.auth.kind === 'basic' && deps.password !== undefined
        ? { username: cfg.auth.username, password: deps.password }
        : {};
    this.auth = new UpstreamAuthState({
      upstream: cfg.host,
      upstreamUrl: cfg.url,
      boundary: new UpstreamBoundary(cfg),
      // Token answers are upstream bodies too: the same deadline and minimum rate hold for them.
      dispatcher: watchBodies(deps.dispatcher, deps.limits, cfg.host),
      timeouts: cfg.timeouts,
      now: this.now,
      ...basic,
      ...(deps.onRequest === undefined ? {} : { onRequest: deps.onRequest }),
      ...(deps.tokenCache === undefined ? {} : { tokenCache: deps.tokenCache }),
    });
    this.transport = new Transport({
      cfg,
      dispatcher: deps.dispatcher,
      auth: this.auth,
      errorBodyBytes: deps.limits.errorBodyBytes,
      bodyLimits: deps.limits,
      now: this.now,
      ...(deps.onRequest === undefined ? {} : { onRequest: deps.onRequest }),
      ...(deps.observer === undefined ? {} : { observer: deps.observer }),
    });
  }

  get host(): string {
    return this.cfg.host;
  }

  /** One unauthenticated `GET /v2/`, not retried (readiness probe, http/readiness.ts): the HTTP status when the
   * upstream answered at all (401 included), else the connection failure as a SigwardError. Never throws. */
  async ping(): Promise<{ status: number } | { error: SigwardError }> {
    const url = new URL('/v2/', this.cfg.url);
    try {
      const res = await this.dispatcher.request({
        origin: url.origin,
        path: url.pathname,
        method: 'GET',
        headersTimeout: this.cfg.timeouts.headersMs,
        bodyTimeout: this.cfg.timeouts.bodyMs,
      });
      res.body.resume();
      res.body.on('error', () => {});
      return { status: res.statusCode };
    } catch (e) {
      return {
        error: connectionError(
          e,
          { upstream: this.cfg.host, method: 'GET', url: url.href, kind: 'ping', authenticated: false, now: this.now },
          'request',
        ),
      };
    }
  }

  /**
   * A manifest, byte-exact. Always sends every type sigward handles plus the client's extra ones: distribution 2.8
   * negotiates on Accept even by digest and answers 404 when the stored type is not accepted.
   */
  async getManifest(
    repository: string,
    ref: ManifestReference,
    opts: ManifestGetOptions = {},
  ): Promise<FetchedManifest> {
    const known = ref.kind === 'tag' ? opts.known : undefined;
    const base = this.manifestRequest('GET', repository, ref, opts);
    const req =
      known === undefined ? base : { ...base, headers: { ...base.headers, 'if-none-match': `"${known.digest}"` } };
    const cap = this.limits.manifestBytes;
    const res = await this.transport.sendBuffered(req, cap);
    if (res.status === 304) return this.notModified(repository, ref, res, known);
    if (res.status !== 200) return this.transport.fail(res, req);
    if (res.overflow !== undefined) {
      throw this.transport.failed(
        new SigwardError(
          'UPSTREAM_TOO_LARGE',
          `manifest ${referenceString(ref)} of ${this.cfg.host}/${repository} is ${res.overflow} bytes or more, over the limit of ${cap} bytes (limits.manifestBytes)`,
          {
            detail: { upstream: this.cfg.host, limit: cap },
          },
        ),
      );
    }
    const untrustedBytes = res.bytes;
    const digest = this.checkDigest(repository, ref, untrustedBytes, res);
    return {
      bytes: untrustedBytes,
      digest,
      mediaType: this.mediaTypeOf(untrustedBytes, res, repository, digest),
      size: untrustedBytes.length,
    };
  }

  /** A 304 is an answer only to our If-None-Match: the tag still names `known`, whose bytes were checked when they
   * arrived. Anything else about it (no validator sent, another digest in its header) is an upstream fault. */
  private notModified(
    repository: string,
    ref: ManifestReference,
    res: BufferedResponse,
    known: FetchedManifest | undefined,
  ): FetchedManifest {
    const where = `${this.cfg.host}/${repository}:${referenceString(ref)}`;
    if (known === undefined) {
      throw this.transport.failed(
        new SigwardError(
          'UPSTREAM_INVALID',
          `upstream ${this.cfg.host} answered GET ${where} with 304 Not Modified, though sigward sent no If-None-Match; nothing was served`,
          {
            detail: { upstream: this.cfg.host },
            reason: 'unexpected 304 from upstream',
          },
        ),
      );
    }
    const claimed = header(res.headers, 'docker-content-digest');
    if (claimed !== undefined && claimed !== known.digest) {
      throw this.mismatch(
        `upstream ${this.cfg.host} said ${where} is unchanged (${known.digest}) but named ${claimed}; nothing was served`,
        known.digest,
      );
    }
    return known;
  }

  /** What the upstream says about a manifest, from headers only (nothing here is verified). */
  async headManifest(
    repository: string,
    ref: ManifestReference,
    opts: { accept?: ReadonlySet<string>; signal?: AbortSignal } = {},
  ): Promise<ManifestHead> {
    const req = this.manifestRequest('HEAD', repository, ref, opts);
    const res = await this.transport.sendBuffered(req, 0);
    if (res.status !== 200) return this.transport.fail(res, req);
    const d = header(res.headers, 'docker-content-digest');
    const mediaType = baseMediaType(header(res.headers, 'content-type'));
    const size = contentLength(res.headers);
    return {
      ...(d !== undefined && isDigest(d) ? { digest: d } : {}),
      ...(mediaType === undefined ? {} : { mediaType }),
      ...(size === undefined ? {} : { size }),
    };
  }

  /** A blob as a stream (not hashed here: the caller checks the digest while passing it on). */
  async getBlob(repository: string, digest: Digest, opts: BlobGetOptions = {}): Promise<BlobStream> {
    const got = await this.fetchBlob(repository, digest, opts, false);
    if ('location' in got) throw new Error('unreachable: a redirect is only returned when asked for');
    return got;
  }

  /** The same GET, but a redirect to another origin (the upstream's storage) is returned instead of followed: for
   * upstreams with `blobs: redirect`, whose clients are handed it. Redirects to the upstream itself are followed. */
  locateBlob(repository: string, digest: Digest, opts: BlobGetOptions = {}): Promise<BlobStream | BlobRedirect> {
    return this.fetchBlob(repository, digest, opts, true);
  }

  private async fetchBlob(
    repository: string,
    digest: Digest,
    opts: BlobGetOptions,
    handOutRedirect: boolean,
  ): Promise<BlobStream | BlobRedirect> {
    const req: UpstreamRequest = {
      method: 'GET',
      path: `/v2/${repoPath(repository)}/blobs/${seg(digest)}`,
      kind: 'blob',
      repository,
      ...(opts.range === undefined ? {} : { headers: { range: opts.range } }),
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      ...(handOutRedirect ? { handOutRedirects: true } : {}),
    };
    const res = await this.transport.send(req);
    if (handOutRedirect && isRedirectStatus(res.status) && res.url.origin !== this.transport.origin)
      return { status: res.status, location: res.url };
    if (res.status !== 200 && res.status !== 206) return this.transport.fail(res, req);
    if (res.status === 206 && opts.range === undefined) {
      // Part of a blob, answered to a request for all of it: it cannot be checked against the digest and must not
      // reach a client (or the sget store) as if it were the blob.
      release(res.body);
      throw this.transport.failed(
        new SigwardError(
          'UPSTREAM_INVALID',
          `upstream ${this.cfg.host} answered a whole-blob GET of ${this.cfg.host}/${repository}@${digest} with 206 Partial Content (sigward sent no Range); nothing was passed on`,
          {
            detail: { upstream: this.cfg.host },
            reason: 'upstream sent 206 without Range',
          },
        ),
      );
    }
    const size = contentLength(res.headers);
    return {
      status: res.status,
      headers: flatHeaders(res.headers),
      ...(size === undefined ? {} : { size }),
      body: res.body,
    };
  }

  /** A small blob read whole (signature layers, bundles): at most `cap` bytes are kept, `overflow` says it was more.
   * Not digest-checked here: the caller checks it against the descriptor it came from. */
  async readBlob(repository: string, digest: Digest, cap: number): Promise<{ bytes: Uint8Array; overflow?: number }> {
    const req: UpstreamRequest = {
      method: 'GET',
      path: `/v2/${repoPath(repository)}/blobs/${seg(digest)}`,
      kind: 'blob',
      repository,
    };
    const res = await this.transport.sendBuffered(req, cap);
    if (res.status !== 200) return this.transport.fail(res, req);
    return { bytes: res.bytes, ...(res.overflow === undefined ? {} : { overflow: res.overflow }) };
  }

  async headBlob(
    repository: string,
    digest: Digest,
    opts: { signal?: AbortSignal } = {},
  ): Promise<{ size?: number; headers: Record<string, string> }> {
    const req: UpstreamRequest = {
      method: 'HEAD',
      path: `/v2/${repoPath(repository)}/blobs/${seg(digest)}`,
      kind: 'blob',
      repository,
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
    };
    const res = await this.transport.sendBuffered(req, 0);
    if (res.status !== 200) return this.transport.fail(res, req);
    const size = contentLength(res.headers);
    return { ...(size === undefined ? {} : { size }), headers: flatHeaders(res.headers) };
  }

  /** tags/list (spec "Listing Tags"), passed through with its Link header for pagination. */
  async getTags(repository: string, query: { n?: string; last?: string } = {}): Promise<ListAnswer> {
    const q = new URLSearchParams();
    if (query.n !== undefined) q.set('n', query.n);
    if (query.last !== undefined) q.set('last', query.last);
    const qs = q.toString() === '' ? '' : `?${q.toString()}`;
    return this.list(
      { method: 'GET', path: `/v2/${repoPath(repository)}/tags/list${qs}`, kind: 'tags', repository },
      false,
    );
  }

  /** The referrers API (spec "Listing Referrers"). A 404 is returned, not thrown: the caller then tries the tag schema. */
  async getReferrers(repository: string, digest: Digest, artifactType?: string): Promise<ListAnswer> {
    const qs = artifactType === undefined ? '' : `?${new URLSearchParams({ artifactType }).toString()}`;
    const a = await this.list(
      {
        method: 'GET',
        path: `/v2/${repoPath(repository)}/referrers/${seg(digest)}${qs}`,
        kind: 'referrers',
        repository,
      },
      true,
    );
    // A registry with the API never answers it 404 (distribution-spec 1.1, "Listing Referrers"). A 404 that is not
    // even an OCI error (distribution 2.8: "404 page not found") says there is no such route; a 404 with an OCI code
    // (say NAME_UNKNOWN) may come from a registry that has the API, so it teaches nothing.
    if (a.status === 404 && a.upstreamCode === undefined) this.referrersAbsentUntil = this.now() + REFERRERS_ABSENT_MS;
    else if (a.status === 200) this.referrersAbsentUntil = 0;
    return a;
  }

  /** Count a failure of this upstream found above the client (metrics): a relayed blob whose bytes, read to their end,
   * do not hash to the digest asked for (proxy/blobs.ts). */
  countFailure(error: SigwardError): void {
    this.transport.failed(error);
  }

  /** True while a recent referrers request found no API here: signature discovery then goes straight to the tag
   * schema, one upstream round trip fewer on a first pull. Forgotten after REFERRERS_ABSENT_MS (upgrades happen). */
  referrersApiAbsent(): boolean {
    return this.referrersAbsentUntil > this.now();
  }

  private async list(req: UpstreamRequest, notFoundIsAnswer: boolean): Promise<ListAnswer> {
    const cap = this.limits.listBytes;
    const res = await this.transport.sendBuffered(req, cap);
    const contentType = header(res.headers, 'content-type');
    const link = header(res.headers, 'link');
    if (res.status === 404 && notFoundIsAnswer) {
      const { code } = upstreamMessage(res.bytes);
      return {
        status: 404,
        contentType,
        bytes: new Uint8Array(0),
        ...(code === undefined ? {} : { upstreamCode: code }),
      };
    }
    if (res.status !== 200) return this.transport.fail(res, req);
    if (res.overflow !== undefined) {
      throw this.transport.failed(
        new SigwardError(
          'UPSTREAM_TOO_LARGE',
          `the ${req.kind} answer of ${this.cfg.host}/${req.repository} is ${res.overflow} bytes or more, over the limit of ${cap} bytes (limits.listBytes)`,
          {
            detail: { upstream: this.cfg.host, limit: cap },
          },
        ),
      );
    }
    return { status: 200, contentType, bytes: res.bytes, ...(link === undefined ? {} : { link }) };
  }

  private manifestRequest(
    method: 'GET' | 'HEAD',
    repository: string,
    ref: ManifestReference,
    opts: { accept?: ReadonlySet<string>; signal?: AbortSignal },
  ): UpstreamRequest {
    return {
      method,
      path: `/v2/${repoPath(repository)}/manifests/${seg(referenceString(ref))}`,
      kind: 'manifest',
      repository,
      headers: { accept: acceptHeader(opts.accept) },
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
    };
  }

  /** By digest the bytes must hash to it; by tag the bytes define the digest and the upstream's header must agree. */
  private checkDigest(
    repository: string,
    ref: ManifestReference,
    untrustedBytes: Uint8Array,
    res: BufferedResponse,
  ): Digest {
    const where = `${this.cfg.host}/${repository}`;
    if (ref.kind === 'digest') {
      if (!matchesDigest(untrustedBytes, ref.digest)) {
        throw this.mismatch(
          `upstream ${this.cfg.host} answered ${where}@${ref.digest} with bytes that hash to ${digestOf(untrustedBytes)}; nothing was served`,
          ref.digest,
        );
      }
      return ref.digest;
    }
    const computed = digestOf(untrustedBytes);
    const claimed = header(res.headers, 'docker-content-digest');
    // Schema 1 signed manifests are digested without their JWS signatures, so the header legitimately differs.
    const signedV1 = baseMediaType(header(res.headers, 'content-type')) === MT.dockerV1Signed;
    // A sha256 claim is compared with the digest just computed (one hash of the bytes, not two).
    if (
      claimed !== undefined &&
      isDigest(claimed) &&
      !signedV1 &&
      (claimed.startsWith('sha256:') ? claimed !== computed : !matchesDigest(untrustedBytes, claimed))
    ) {
      throw this.mismatch(
        `upstream ${this.cfg.host} said ${where}:${ref.tag} is ${claimed} but sent bytes that hash to ${computed}; nothing was served`,
        claimed,
      );
    }
    return computed;
  }

  private mismatch(message: string, expected: string): SigwardError {
    return this.transport.failed(
      new SigwardError('UPSTREAM_DIGEST_MISMATCH', message, {
        detail: { upstream: this.cfg.host, expected },
        reason: 'upstream digest mismatch',
      }),
    );
  }

  /** Content-Type first; else the manifest's own `mediaType` field; else the shape (umoci writes no mediaType). */
  private mediaTypeOf(bytes: Uint8Array, res: BufferedResponse, repository: string, digest: Digest): string {
    const ct = baseMediaType(header(res.headers, 'content-type'));
    if (ct !== undefined && ct !== 'application/json' && ct !== 'application/octet-stream' && ct !== 'text/plain')
      return ct;
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch (e) {
      throw this.transport.failed(
        new SigwardError(
          'MANIFEST_INVALID',
          `manifest ${this.cfg.host}/${repository}@${digest} is not JSON and has no manifest Content-Type`,
          { cause: e, detail: { upstream: this.cfg.host } },
        ),
      );
    }
    const o = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as {
      mediaType?: unknown;
      manifests?: unknown;
      config?: unknown;
    };
    if (typeof o.mediaType === 'string' && MEDIA_TYPE_RE.test(o.mediaType)) return o.mediaType;
    if (Array.isArray(o.manifests)) return MT.ociIndex;
    if (typeof o.config === 'object' && o.config !== null) return MT.ociManifest;
    throw this.transport.failed(
      new SigwardError(
        'MANIFEST_INVALID',
        `manifest ${this.cfg.host}/${repository}@${digest} has no media type (no Content-Type, no mediaType field) and is neither an image manifest nor an index`,
        {
          detail: { upstream: this.cfg.host },
        },
      ),
    );
  }
}
