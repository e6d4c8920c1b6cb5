// The auth state of one upstream: which scheme it challenged with, the Basic credentials, and bearer tokens per
// scope. Flow (docker token spec, "token.md" in distribution's docs; OCI distribution spec leaves auth to it):
//   request -> 401 + `WWW-Authenticate: Bearer realm=…,service=…,scope=…`
//   GET realm?service=…&scope=… (Basic credentials when configured) -> {"token"|"access_token", "expires_in"}
//   repeat the request once with `Authorization: Bearer <token>`.
// Tokens are cached per scope until shortly before `expires_in` (default 60 s per the spec) on an injected clock,
// and concurrent fetches of one scope share one request. Once an upstream has challenged with Bearer, later
// requests for a new repository get their token up front (scope `repository:<repo>:pull`, or `pull,push` for the
// CLI's writes), saving the 401 round trip, as containerd and docker do. Credentials never appear in errors:
// messages name the upstream and the realm.
// A realm is the upstream's say-so, so it is checked before anything is sent there (boundary.ts): the credentials go
// only to the upstream's own host and its tokenRealms, and an anonymous realm elsewhere must be a public address.
import { LRUCache } from 'lru-cache';
import type { Dispatcher } from 'undici';
import type { UpstreamTimeouts } from '../config/types.ts';
import { SigwardError } from '../errors.ts';
import { NonPublicAddressError } from './address-guard.ts';
import { readCapped, readHead } from './body.ts';
import type { UpstreamBoundary } from './boundary.ts';
import { parseChallenges } from './challenge.ts';
import { SingleFlight } from '../util/single-flight.ts';
import { connectionError, upstreamStatusError, type FailureContext } from './status.ts';
import type { CacheObserver } from '../metrics/observers.ts';

/** Reported once per HTTP response received from an upstream (token requests and redirects included). */
export interface UpstreamRequestInfo {
  readonly method: string;
  readonly url: string;
  readonly status: number;
}
export type OnRequest = (info: UpstreamRequestInfo) => void;

export interface AuthOptions {
  /** Configured upstream host, for messages. */
  readonly upstream: string;
  /** The upstream's base URL: credentials are not sent to a plain-http realm of an https upstream. */
  readonly upstreamUrl: string;
  /** Which realms may get the credentials, and which may be asked anonymously (boundary.ts). */
  readonly boundary: UpstreamBoundary;
  readonly dispatcher: Dispatcher;
  readonly username?: string;
  readonly password?: string;
  readonly timeouts: UpstreamTimeouts;
  readonly now?: () => number;
  readonly onRequest?: OnRequest;
  /** Metrics of the token cache (label `tokens`). */
  readonly tokenCache?: CacheObserver;
  /** Largest token response read (Docker Hub's are a few KiB). */
  readonly tokenBytes?: number;
  /** The actions a token is asked for up front (`repository:<repo>:<actions>`): `pull` (default; the proxy never
   * writes) or `pull,push` (the CLI's writes, as docker and cosign ask before a push). */
  readonly actions?: 'pull' | 'pull,push';
}

/** Docker token spec: "When omitted, this defaults to 60 seconds." */
export const DEFAULT_TOKEN_SECONDS = 60;
/** Refresh this long before expiry (at most a quarter of the lifetime), so a token never expires in flight. */
const EXPIRY_MARGIN_MS = 10_000;
const USER_AGENT = 'sigward';

interface CachedToken {
  readonly header: string;
  readonly expiresAt: number;
}

export class UpstreamAuthState {
  private readonly now: () => number;
  private readonly basicHeader: string | undefined;
  private basicPreemptive = false;
  private bearer: { realm: URL; service: string | undefined } | undefined;
  private readonly tokens = new LRUCache<string, CachedToken>({
    max: 1024,
    dispose: (_t, _scope, reason) => reason === 'evict' && this.opts.tokenCache?.evicted(),
  });
  /** Concurrent fetches of one scope share one request; its `calls` counts the token requests really made. */
  private readonly inflight = new SingleFlight<CachedToken>();
  /** The scope a repository was last challenged with (a registry may ask for more than `pull`). */
  private readonly scopeOf = new LRUCache<string, string>({ max: 1024 });

  constructor(private readonly opts: AuthOptions) {
    this.now = opts.now ?? Date.now;
    this.basicHeader =
      opts.username !== undefined && opts.password !== undefined
        ? `Basic ${Buffer.from(`${opts.username}:${opts.password}`, 'utf8').toString('base64')}`
        : undefined;
  }

  /** Token requests made (not coalesced, not cached): lets tests see caching and single-flight work. */
  get tokenFetches(): number {
    return this.inflight.calls;
  }

  /** As authorization(), without a promise when no token is involved (no Bearer challenge seen yet): the common
   * anonymous or Basic request then goes out without waiting a turn of the microtask queue. */
  authorizationSoon(repository: string | undefined): string | undefined | Promise<string | undefined> {
    if (this.bearer !== undefined) return this.authorization(repository);
    return this.basicPreemptive ? this.basicHeader : undefined;
  }

  /** The Authorization value to send up front for a request on `repository`, if the scheme is known already. */
  async authorization(repository: string | undefined): Promise<string | undefined> {
    if (this.bearer !== undefined) {
      const scope =
        repository === undefined
          ? ''
          : (this.scopeOf.get(repository) ?? `repository:${repository}:${this.opts.actions ?? 'pull'}`);
      return (await this.token(scope)).header;
    }
    return this.basicPreemptive ? this.basicHeader : undefined;
  }

  /**
   * Answer a 401: returns the Authorization value to repeat the request with, or throws UPSTREAM_UNAUTHORIZED
   * when nothing sigward could send would help. `sent` is what the failed request carried.
   */
  async challenged(
    wwwAuthenticate: string | readonly string[] | undefined,
    repository: string | undefined,
    sent: string | undefined,
  ): Promise<string> {
    const challenges = parseChallenges(wwwAuthenticate);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer !== undefined) {
      const realm = this.checkRealm(bearer.params.realm);
      this.bearer = { realm, service: bearer.params.service };
      const scope = this.widened(bearer.params.scope ?? '', repository);
      if (repository !== undefined && scope !== '') this.scopeOf.set(repository, scope);
      const cached = this.tokens.get(scope);
      // A token that was just refused is dropped; one refreshed meanwhile by a concurrent request is reused.
      if (cached !== undefined && cached.header === sent) this.tokens.delete(scope);
      return (await this.token(scope)).header;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      if (this.basicHeader === undefined) {
        throw this.unauthorized(
          `upstream ${this.opts.upstream} requires credentials (Basic auth) and none are configured; set auth.username and passwordFile or passwordEnv for it`,
        );
      }
      if (sent === this.basicHeader) {
        throw this.unauthorized(
          `upstream ${this.opts.upstream} rejected the configured Basic credentials; check its auth.username and password`,
        );
      }
      this.basicPreemptive = true;
      return this.basicHeader;
    }
    const schemes = challenges.map((c) => c.scheme).join(', ') || 'none';
    throw this.unauthorized(
      `upstream ${this.opts.upstream} answered 401 with no usable WWW-Authenticate challenge (schemes: ${schemes}); sigward supports Bearer and Basic`,
    );
  }

  /** A writer asks for `pull,push` on the repository it writes to, even when a read (a HEAD) was challenged with
   * `pull` only: one token serves the whole push, as docker's pusher asks. */
  private widened(scope: string, repository: string | undefined): string {
    if (this.opts.actions !== 'pull,push' || repository === undefined) return scope;
    return scope === `repository:${repository}:pull` ? `repository:${repository}:pull,push` : scope;
  }

  private unauthorized(message: string): SigwardError {
    return new SigwardError('UPSTREAM_UNAUTHORIZED', message, {
      detail: { upstream: this.opts.upstream },
      reason: 'upstream unauthorized',
    });
  }

  private checkRealm(realm: string | undefined): URL {
    let url: URL | undefined;
    try {
      url = realm === undefined ? undefined : new URL(realm);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      throw new SigwardError(
        'UPSTREAM_INVALID',
        `upstream ${this.opts.upstream} sent a Bearer challenge without a usable http(s) realm; the registry's token auth is misconfigured`,
        {
          detail: { upstream: this.opts.upstream },
        },
      );
    }
    if (this.basicHeader !== undefined && url.protocol === 'http:' && this.opts.upstreamUrl.startsWith('https:')) {
      throw new SigwardError(
        'UPSTREAM_INVALID',
        `upstream ${this.opts.upstream} is https but its token realm ${url.origin} is plain http; sigward will not send its credentials in clear text`,
        {
          detail: { upstream: this.opts.upstream },
        },
      );
    }
    this.opts.boundary.checkRealm(url, this.basicHeader !== undefined);
    return url;
  }

  /** A valid token for `scope`, from the cache or from one shared fetch. */
  private async token(scope: string): Promise<CachedToken> {
    const cached = this.tokens.get(scope);
    const fresh = cached !== undefined && cached.expiresAt > this.now();
    this.opts.tokenCache?.[fresh ? 'hit' : 'miss']();
    if (fresh) return cached;
    return this.inflight.run(scope, async () => {
      const t = await this.fetchToken(scope);
      this.tokens.set(scope, t);
      return t;
    });
  }

  private async fetchToken(scope: string): Promise<CachedToken> {
    const bearer = this.bearer;
    if (bearer === undefined) throw new Error('fetchToken before a Bearer challenge');
    const url = new URL(bearer.realm);
    if (bearer.service !== undefined) url.searchParams.set('service', bearer.service);
    if (scope !== '') url.searchParams.set('scope', scope);
    if (this.basicHeader !== undefined && this.opts.username !== undefined)
      url.searchParams.set('account', this.opts.username);
    const ctx: FailureContext = {
      upstream: this.opts.upstream,
      method: 'GET',
      url: `${url.origin}${url.pathname}`,
      kind: 'token',
      authenticated: this.basicHeader !== undefined,
      now: this.now,
    };
    const issuedAt = this.now();
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, accept: 'application/json' };
    if (this.basicHeader !== undefined) headers.authorization = this.basicHeader;
    let res: Dispatcher.ResponseData;
    try {
      res = await this.opts.dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers,
        headersTimeout: this.opts.timeouts.headersMs,
        bodyTimeout: this.opts.timeouts.bodyMs,
      });
    } catch (e) {
      if (e instanceof NonPublicAddressError) throw this.opts.boundary.refusedConnection(e.message, ctx, url, e);
      throw connectionError(e, ctx, 'request');
    }
    this.opts.onRequest?.({ method: 'GET', url: ctx.url, status: res.statusCode });
    if (res.statusCode !== 200) {
      const body = await readHead(res.body, 16 * 1024);
      const err = upstreamStatusError(res.statusCode, res.headers, body, ctx);
      if (err.code !== 'UPSTREAM_UNAUTHORIZED') throw err;
      throw this.unauthorized(
        this.basicHeader === undefined
          ? `the token service of upstream ${this.opts.upstream} (${ctx.url}) refused an anonymous token; configure credentials for this upstream`
          : `the token service of upstream ${this.opts.upstream} (${ctx.url}) rejected the configured credentials; check auth.username and the password of this upstream`,
      );
    }
    const cap = this.opts.tokenBytes ?? 256 * 1024;
    let bytes: Uint8Array;
    try {
      bytes = await readCapped(
        res.body,
        cap,
        () =>
          new SigwardError(
            'UPSTREAM_TOO_LARGE',
            `the token response of upstream ${this.opts.upstream} exceeds ${cap} bytes`,
          ),
      );
    } catch (e) {
      throw connectionError(e, ctx, 'body');
    }
    return this.parseToken(bytes, issuedAt, ctx.url);
  }

  private parseToken(bytes: Uint8Array, issuedAt: number, where: string): CachedToken {
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown } | undefined;
    try {
      parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof parsed;
    } catch {
      parsed = undefined;
    }
    const token = typeof parsed?.token === 'string' && parsed.token !== '' ? parsed.token : parsed?.access_token;
    if (typeof token !== 'string' || token === '' || /[\r\n]/.test(token)) {
      throw new SigwardError(
        'UPSTREAM_INVALID',
        `the token service of upstream ${this.opts.upstream} (${where}) answered without a usable "token" or "access_token"`,
        {
          detail: { upstream: this.opts.upstream },
        },
      );
    }
    const seconds =
      typeof parsed?.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_TOKEN_SECONDS;
    const lifetime = seconds * 1000;
    return { header: `Bearer ${token}`, expiresAt: issuedAt + lifetime - Math.min(EXPIRY_MARGIN_MS, lifetime / 4) };
  }
}
