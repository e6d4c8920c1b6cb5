// One upstream request, end to end: credentials, one repeat after a 401 challenge, redirects followed by hand
// (the Authorization header only ever goes to the upstream's own origin: a blob redirected to storage must not
// carry registry credentials, as in Go's net/http and curl; where a redirect may lead at all is boundary.ts's
// call), retries of idempotent requests on connection errors that happened before any response, and timeouts from
// the upstream's config.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { UpstreamConfig } from '../config/types.ts';
import { SigwardError } from '../errors.ts';
import { NonPublicAddressError } from './address-guard.ts';
import type { OnRequest, UpstreamAuthState } from './auth.ts';
import { discard, header, readHead, type RawHeaders } from './body.ts';
import { watchBodies, type BodyLimits } from './body-watch.ts';
import { UpstreamBoundary } from './boundary.ts';
import { BodyBrokenError, bufferedRequest } from './buffered.ts';
import {
  connectionError,
  isRetryableConnectionError,
  upstreamStatusError,
  type FailureContext,
  type RequestKind,
} from './status.ts';
import type { UpstreamObserver } from '../metrics/observers.ts';

export const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Backoff before retry n (0-based): 50 ms, 100 ms, 200 ms, … capped at 1 s. */
const backoffMs = (attempt: number): number => Math.min(1000, 50 * 2 ** attempt);
const USER_AGENT = 'sigward';

export interface UpstreamRequest {
  readonly method: 'GET' | 'HEAD';
  /** Path below the upstream's base URL, already encoded, with any query. */
  readonly path: string;
  readonly kind: RequestKind;
  /** Repository the request is about (auth scope). */
  readonly repository: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** A redirect to another origin is returned (its `url` is the resolved Location), not followed: the caller hands
   * it to its client (an upstream with `blobs: redirect`). Redirects back to the upstream's own origin are still
   * followed, with credentials, as they would be for anyone else. */
  readonly handOutRedirects?: boolean;
}

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: RawHeaders;
  readonly body: Readable;
  /** Where the answer finally came from (after redirects). */
  readonly url: URL;
  /** Whether credentials were sent with the request that produced this answer. */
  readonly authenticated: boolean;
}

/** An answer read whole by sendBuffered. */
export interface BufferedResponse {
  readonly status: number;
  readonly headers: RawHeaders;
  /** The body (its start only, when `overflow` is set). */
  readonly bytes: Uint8Array;
  /** The body's length (declared or seen) when it was longer than the cap. */
  readonly overflow?: number;
  readonly url: URL;
  readonly authenticated: boolean;
}

export interface TransportOptions {
  readonly cfg: UpstreamConfig;
  readonly dispatcher: Dispatcher;
  readonly auth: UpstreamAuthState;
  readonly errorBodyBytes: number;
  /** Deadline and minimum rate of every body (limits.bodyDeadline, minBodyRate, bodyRateWindow). */
  readonly bodyLimits: BodyLimits;
  readonly now: () => number;
  readonly onRequest?: OnRequest;
  /** Metrics of this upstream: time to each response head, failures by class. */
  readonly observer?: UpstreamObserver;
}

export class Transport {
  readonly origin: string;
  private readonly base: string;
  /** Which redirects may be followed (boundary.ts). */
  private readonly boundary: UpstreamBoundary;
  /** The injected dispatcher with every body held to its deadline and minimum rate. */
  private readonly dispatcher: Dispatcher;

  constructor(private readonly opts: TransportOptions) {
    this.dispatcher = watchBodies(opts.dispatcher, opts.bodyLimits, opts.cfg.host);
    this.boundary = new UpstreamBoundary(opts.cfg);
    const url = new URL(opts.cfg.url);
    this.origin = url.origin;
    this.base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  }

  get upstream(): string {
    return this.opts.cfg.host;
  }

  /** Send a request; answers of any status are returned (the caller decides), transport failures are thrown. */
  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const { dispatcher } = this;
    const res = await this.exchange(req, async (url, headers) => {
      const r = await dispatcher.request({ ...this.target(req, url, headers), signal: req.signal });
      // A body can be destroyed with an error (a body limit, a reset) while nobody reads it yet, e.g. while sget
      // makes room in its store. Its reader still learns of the error (the stream is left errored); this listener
      // keeps it from becoming an uncaught exception that would end the daemon, and counts it (metrics).
      r.body.on('error', this.bodyFailed);
      return { statusCode: r.statusCode, headers: r.headers, body: r.body, drop: () => discard(r.body) };
    }).catch(this.countFailure);
    return { status: res.status, headers: res.headers, body: res.body, url: res.url, authenticated: res.authenticated };
  }

  /**
   * Send a request whose answer is wanted whole: a 200 (or 206) body up to `cap` bytes, any other body up to
   * errorBodyBytes (for the message). `overflow` says the body was longer and only its start is held.
   */
  async sendBuffered(req: UpstreamRequest, cap: number): Promise<BufferedResponse> {
    const { dispatcher } = this;
    const { errorBodyBytes } = this.opts;
    const res = await this.exchange(req, async (url, headers) => {
      const a = await bufferedRequest(dispatcher, {
        ...this.target(req, url, headers),
        signal: req.signal,
        capFor: (status) => (status === 200 || status === 206 ? cap : errorBodyBytes),
      });
      return { statusCode: a.statusCode, headers: a.headers, body: a, drop: async () => undefined };
    }).catch(this.countFailure);
    const a = res.body;
    return {
      status: res.status,
      headers: res.headers,
      bytes: a.bytes,
      ...(a.overflow === undefined ? {} : { overflow: a.overflow }),
      url: res.url,
      authenticated: res.authenticated,
    };
  }

  /** Where and how one attempt goes: the same for streamed and buffered answers. */
  private target(req: UpstreamRequest, url: URL, headers: Record<string, string>) {
    const { timeouts } = this.opts.cfg;
    return {
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: req.method,
      headers,
      headersTimeout: timeouts.headersMs,
      bodyTimeout: timeouts.bodyMs,
    };
  }

  /** The exchange around one request: credentials, one repeat after a 401 challenge, redirects followed by hand. */
  private async exchange<B>(
    req: UpstreamRequest,
    trip: (url: URL, headers: Record<string, string>) => Promise<Trip<B>>,
  ): Promise<Exchanged<B>> {
    let url = new URL(this.base + req.path);
    const soon = this.opts.auth.authorizationSoon(req.repository);
    let authorization = typeof soon === 'object' ? await soon : soon;
    let challenged = false;
    for (let hops = 0; ;) {
      const trusted = url.origin === this.origin;
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...req.headers };
      if (trusted && authorization !== undefined) headers.authorization = authorization;
      const res = await this.roundTrip(req, url, headers, trip);
      if (res.statusCode === 401 && trusted && !challenged) {
        await res.drop();
        authorization = await this.opts.auth.challenged(res.headers['www-authenticate'], req.repository, authorization);
        challenged = true;
        continue;
      }
      const location = header(res.headers, 'location');
      if (REDIRECT_STATUSES.has(res.statusCode) && location !== undefined) {
        const elsewhere = req.handOutRedirects === true ? foreignLocation(url, location, this.origin) : undefined;
        if (elsewhere !== undefined) {
          await res.drop();
          // A redirect handed to the client crosses the same boundary as one sigward would follow: never into
          // non-public networks unless the operator allowed it for this upstream.
          this.boundary.checkHandOut(req, url, elsewhere);
          return { status: res.statusCode, headers: res.headers, body: res.body, url: elsewhere, authenticated: false };
        }
        await res.drop();
        if (++hops > MAX_REDIRECTS) {
          throw new SigwardError(
            'UPSTREAM_INVALID',
            `upstream ${this.upstream} redirected ${req.method} ${this.describe(url)} more than ${MAX_REDIRECTS} times`,
            {
              detail: { upstream: this.upstream },
            },
          );
        }
        url = this.redirectTarget(url, location, req);
        continue;
      }
      return {
        status: res.statusCode,
        headers: res.headers,
        body: res.body,
        url,
        authenticated: trusted && headers.authorization !== undefined,
      };
    }
  }

  /** Turn an unwanted answer into the mapped error, reading (a capped part of) its body for the message. */
  async fail(res: UpstreamResponse | BufferedResponse, req: UpstreamRequest): Promise<never> {
    let body: Uint8Array | undefined;
    if ('bytes' in res) body = req.method === 'HEAD' ? undefined : res.bytes.subarray(0, this.opts.errorBodyBytes);
    else if (req.method === 'HEAD') await discard(res.body);
    else body = await readHead(res.body, this.opts.errorBodyBytes);
    throw this.failed(
      upstreamStatusError(res.status, res.headers, body, this.context(req, res.url, res.authenticated)),
    );
  }

  /** Count whatever failed an exchange (token fetches, body deadlines, ...; metrics) and throw it on. */
  private readonly countFailure = (e: unknown): never => {
    this.opts.observer?.failed(e);
    throw e;
  };

  /** A streamed body's error (a reset, a body deadline; counted once, sigward's own aborts not at all). */
  private readonly bodyFailed = (e: unknown): void => this.opts.observer?.failed(e);

  /** Count a failure of this upstream (metrics) and hand it back to be thrown. */
  failed(e: SigwardError): SigwardError {
    this.opts.observer?.failed(e);
    return e;
  }

  context(req: UpstreamRequest, url: URL, authenticated: boolean): FailureContext {
    return {
      upstream: this.upstream,
      method: req.method,
      url: this.describe(url),
      kind: req.kind,
      authenticated,
      now: this.opts.now,
    };
  }

  /** A URL for messages and logs: no query, which may hold a storage signature. */
  describe(url: URL): string {
    return `${url.origin}${url.pathname}`;
  }

  private redirectTarget(from: URL, location: string, req: UpstreamRequest): URL {
    let next: URL | undefined;
    try {
      next = new URL(location, from);
    } catch {
      next = undefined;
    }
    if (next === undefined || (next.protocol !== 'https:' && next.protocol !== 'http:')) {
      throw new SigwardError(
        'UPSTREAM_INVALID',
        `upstream ${this.upstream} redirected ${req.method} ${this.describe(from)} to an unusable location`,
        {
          detail: { upstream: this.upstream },
        },
      );
    }
    this.boundary.checkRedirect(req, from, next);
    return next;
  }

  /** One HTTP exchange, repeated on connection errors before any response (GET and HEAD are idempotent). */
  private async roundTrip<B>(
    req: UpstreamRequest,
    url: URL,
    headers: Record<string, string>,
    trip: (url: URL, headers: Record<string, string>) => Promise<Trip<B>>,
  ): Promise<Trip<B>> {
    const { cfg, onRequest, observer } = this.opts;
    for (let attempt = 0; ; attempt++) {
      const started = observer === undefined ? 0 : performance.now();
      try {
        const res = await trip(url, headers);
        observer?.responded(started);
        onRequest?.({
          method: req.method,
          url: url.origin === this.origin ? url.href : this.describe(url),
          status: res.statusCode,
        });
        return res;
      } catch (e) {
        if (req.signal?.aborted) throw req.signal.reason ?? e;
        if (e instanceof NonPublicAddressError) throw this.boundary.refusedConnection(e.message, req, url, e);
        const ctx = this.context(req, url, headers.authorization !== undefined);
        // The answer had begun: the upstream got the request, so it is not sent again.
        if (e instanceof BodyBrokenError) throw this.failed(connectionError(e.cause, ctx, 'body'));
        // undici settles request() only once headers arrived, so a failure here means no response byte was seen.
        if (attempt < cfg.retries && isRetryableConnectionError(e)) {
          await sleep(backoffMs(attempt), undefined, req.signal === undefined ? undefined : { signal: req.signal });
          continue;
        }
        throw this.failed(connectionError(e, ctx, 'request'));
      }
    }
  }
}

export const isRedirectStatus = (status: number): boolean => REDIRECT_STATUSES.has(status);

/** The Location as an absolute http(s) URL on another origin than `origin`; undefined otherwise. */
function foreignLocation(from: URL, location: string, origin: string): URL | undefined {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    return undefined;
  }
  if (next.protocol !== 'https:' && next.protocol !== 'http:') return undefined;
  return next.origin === origin ? undefined : next;
}

/** One answer as the exchange loop sees it: status and headers, the body in whatever form, a way to drop it. */
interface Trip<B> {
  readonly statusCode: number;
  readonly headers: RawHeaders;
  readonly body: B;
  drop(): Promise<void>;
}

interface Exchanged<B> {
  readonly status: number;
  readonly headers: RawHeaders;
  readonly body: B;
  readonly url: URL;
  readonly authenticated: boolean;
}
