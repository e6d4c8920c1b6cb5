// The write side of the OCI distribution API, for the CLI only (the proxy stays read-only): blobs pushed
// monolithically (distribution-spec spec.md "Pushing blobs": POST /blobs/uploads/, then PUT <Location>?digest=, one
// request with the whole body), a HEAD first to skip blobs the repository already has, a cross-repository mount when
// the caller names a source repository (POST ?mount=&from=, 201 = done, 202 = the registry declined and the upload
// goes on), and manifests PUT by tag or digest, byte-exact. Authentication is the read side's (upstream/auth.ts):
// the same challenge handling, realm checks and token cache, but tokens are asked for `pull,push` up front.
// Credentials go only to the registry's own origin: an upload Location elsewhere is refused, and no write follows a
// redirect.
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Limits, UpstreamConfig } from '../config/types.ts';
import { SigwardError } from '../errors.ts';
import { digestOf, type Digest } from '../oci/digest.ts';
import { UpstreamAuthState } from '../upstream/auth.ts';
import { header, readHead, type RawHeaders } from '../upstream/body.ts';
import { UpstreamBoundary } from '../upstream/boundary.ts';
import { connectionError, upstreamMessage, upstreamStatusError, type RequestKind } from '../upstream/status.ts';

export interface BlobSource {
  readonly digest: Digest;
  readonly size: number;
  /** The bytes, or a fresh stream of them: called once per attempt (a 401 challenge repeats the request). */
  body(): Uint8Array | Readable;
}

/** What pushBlob did: nothing (the repository had it), a mount from another repository, or an upload. */
export type BlobOutcome = 'present' | 'mounted' | 'uploaded';

export interface WriterDeps {
  readonly dispatcher: Dispatcher;
  /** The password of `cfg.auth` (basic), if any. */
  readonly password?: string;
  readonly limits: Limits;
  readonly now?: () => number;
}

interface WriteRequest {
  readonly method: 'HEAD' | 'POST' | 'PUT';
  /** Below the registry's origin, encoded, with any query; or a whole URL on that origin (an upload Location). */
  readonly target: string;
  readonly repository: string;
  readonly kind: RequestKind;
  /** For messages: what the request does, e.g. `upload blob sha256:… to team/app`. */
  readonly what: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: () => Uint8Array | Readable;
  /** Answers of these statuses are returned; any other is thrown as an error. */
  readonly expect: readonly number[];
}

interface WriteAnswer {
  readonly status: number;
  readonly headers: RawHeaders;
}

const seg = (s: string): string => encodeURIComponent(s).replace(/%3A/gi, ':');
const repoPath = (repository: string): string => repository.split('/').map(seg).join('/');

export class RegistryWriter {
  readonly auth: UpstreamAuthState;
  private readonly origin: string;
  private readonly base: string;
  private readonly now: () => number;

  constructor(
    readonly cfg: UpstreamConfig,
    private readonly deps: WriterDeps,
  ) {
    const url = new URL(cfg.url);
    this.origin = url.origin;
    this.base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    this.now = deps.now ?? Date.now;
    this.auth = new UpstreamAuthState({
      upstream: cfg.host,
      upstreamUrl: cfg.url,
      boundary: new UpstreamBoundary(cfg),
      dispatcher: deps.dispatcher,
      timeouts: cfg.timeouts,
      now: this.now,
      actions: 'pull,push',
      ...(cfg.auth.kind === 'basic' && deps.password !== undefined
        ? { username: cfg.auth.username, password: deps.password }
        : {}),
    });
  }

  /** Whether `repository` holds the blob (HEAD; a redirect to storage means it does). */
  async hasBlob(repository: string, digest: Digest): Promise<boolean> {
    const res = await this.send({
      method: 'HEAD',
      target: `/v2/${repoPath(repository)}/blobs/${seg(digest)}`,
      repository,
      kind: 'blob',
      what: `check for blob ${digest} in ${repository}`,
      expect: [200, 404, 307, 302],
    });
    return res.status !== 404;
  }

  /** Put one blob into `repository` unless it is there already; the registry checks it against its digest. */
  async pushBlob(repository: string, blob: BlobSource, opts: { mountFrom?: string } = {}): Promise<BlobOutcome> {
    if (await this.hasBlob(repository, blob.digest)) return 'present';
    const where = `/v2/${repoPath(repository)}/blobs/uploads/`;
    const mount =
      opts.mountFrom === undefined
        ? ''
        : `?${new URLSearchParams({ mount: blob.digest, from: opts.mountFrom }).toString()}`;
    const start = await this.send({
      method: 'POST',
      target: `${where}${mount}`,
      repository,
      kind: 'blob',
      what: `start an upload to ${repository}`,
      headers: { 'content-length': '0' },
      expect: opts.mountFrom === undefined ? [202] : [201, 202],
    });
    if (start.status === 201) return 'mounted';
    const location = this.uploadLocation(start.headers, repository);
    location.searchParams.set('digest', blob.digest);
    await this.send({
      method: 'PUT',
      target: location.href,
      repository,
      kind: 'blob',
      what: `upload blob ${blob.digest} (${blob.size} bytes) to ${repository}`,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
      body: () => blob.body(),
      expect: [201],
    });
    return 'uploaded';
  }

  /** PUT manifest bytes exactly as given under `reference` (a tag or their digest); returns their digest. */
  async putManifest(repository: string, reference: string, bytes: Uint8Array, mediaType: string): Promise<Digest> {
    const digest = digestOf(bytes);
    const res = await this.send({
      method: 'PUT',
      target: `/v2/${repoPath(repository)}/manifests/${seg(reference)}`,
      repository,
      kind: 'manifest',
      what: `store manifest ${digest} as ${repository}:${reference}`,
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: () => bytes,
      expect: [201],
    });
    const echoed = header(res.headers, 'docker-content-digest');
    if (echoed !== undefined && echoed !== digest) {
      throw new SigwardError(
        'UPSTREAM_DIGEST_MISMATCH',
        `registry ${this.cfg.host} stored manifest ${repository}:${reference} as ${echoed}, but its bytes hash to ${digest}`,
      );
    }
    return digest;
  }

  /** The Location of a started upload, on the registry's own origin (credentials go nowhere else). */
  private uploadLocation(headers: RawHeaders, repository: string): URL {
    const location = header(headers, 'location');
    let url: URL | undefined;
    try {
      url = location === undefined ? undefined : new URL(location, `${this.base}/`);
    } catch {
      url = undefined;
    }
    if (url === undefined || url.origin !== this.origin) {
      throw new SigwardError(
        'UPSTREAM_INVALID',
        `registry ${this.cfg.host} started an upload to ${repository} at ${url === undefined ? 'no usable Location' : `another origin (${url.origin})`}; sigward uploads only to the registry itself`,
      );
    }
    return url;
  }

  /** One write, with one repeat after a 401 challenge. The answer's body is read (capped) and dropped. */
  private async send(req: WriteRequest): Promise<WriteAnswer> {
    const url = new URL(req.target.startsWith('/') ? this.base + req.target : req.target);
    let authorization = await this.auth.authorization(req.repository);
    for (let challenged = false; ; challenged = true) {
      const headers: Record<string, string> = { 'user-agent': 'sigward', ...req.headers };
      if (authorization !== undefined) headers.authorization = authorization;
      const ctx = {
        upstream: this.cfg.host,
        method: req.method,
        url: `${url.origin}${url.pathname}`,
        kind: req.kind,
        authenticated: authorization !== undefined,
        now: this.now,
      };
      let res: Dispatcher.ResponseData;
      try {
        res = await this.deps.dispatcher.request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: req.method,
          headers,
          body: req.body === undefined ? null : req.body(),
          // An upload's answer comes once the whole body is in: give it the body's time, not a header wait.
          headersTimeout: req.body === undefined ? this.cfg.timeouts.headersMs : this.deps.limits.bodyDeadlineMs,
          bodyTimeout: this.cfg.timeouts.bodyMs,
        });
      } catch (e) {
        throw connectionError(e, ctx, 'request');
      }
      const body = await readHead(res.body, req.method === 'HEAD' ? 0 : this.deps.limits.errorBodyBytes);
      if (res.statusCode === 401 && !challenged) {
        authorization = await this.auth.challenged(res.headers['www-authenticate'], req.repository, authorization);
        continue;
      }
      if (req.expect.includes(res.statusCode)) return { status: res.statusCode, headers: res.headers };
      throw this.refused(req, res.statusCode, res.headers, body, ctx);
    }
  }

  private refused(
    req: WriteRequest,
    status: number,
    headers: RawHeaders,
    body: Uint8Array,
    ctx: Parameters<typeof upstreamStatusError>[3],
  ): SigwardError {
    const said = upstreamMessage(body);
    const quote =
      said.code === undefined && said.message === undefined
        ? ''
        : `: ${[said.code, said.message].filter(Boolean).join(' ')}`;
    const host = this.cfg.host;
    const detail = { upstream: host, status, ...(said.code === undefined ? {} : { upstreamCode: said.code }) };
    if (status === 401) {
      return new SigwardError(
        'UPSTREAM_UNAUTHORIZED',
        `registry ${host} refused to ${req.what} (401 Unauthorized${quote}); log in (docker login ${host}) or give credentials for it in --config, for an account that may push to ${req.repository}`,
        { detail },
      );
    }
    if (status === 403) {
      return new SigwardError(
        'UPSTREAM_DENIED',
        `registry ${host} refused to ${req.what} (403 Forbidden${quote}); the account may not push to ${req.repository}`,
        { detail },
      );
    }
    if (status === 405) {
      return new SigwardError(
        'UPSTREAM_DENIED',
        `registry ${host} refused to ${req.what} (405 Method Not Allowed${quote}); it does not take pushes (a read-only mirror or pull-through cache?)`,
        { detail },
      );
    }
    if (status >= 300 && status < 400) {
      return new SigwardError(
        'UPSTREAM_INVALID',
        `registry ${host} redirected the request to ${req.what} (${status}); sigward does not follow redirects of writes`,
        { detail },
      );
    }
    if (status === 400 || status === 404 || status === 409 || status === 413) {
      return new SigwardError('UPSTREAM_INVALID', `registry ${host} refused to ${req.what} (${status}${quote})`, {
        detail,
      });
    }
    return upstreamStatusError(status, headers, body, ctx);
  }
}
