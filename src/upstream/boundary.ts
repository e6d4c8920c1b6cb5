// Where one upstream may send sigward, besides its own url. An upstream is trusted for what it serves, not for where
// it points: a redirect or a Bearer realm is the upstream's say-so, and followed blindly it would let a registry (or
// anyone answering in its name) aim sigward at the operator's own network, or collect the credentials configured for
// it. The rules:
//   - redirects: back to the upstream's own origin, always; elsewhere only for downloads whose bytes sigward checks
//     (a blob fetched whole: hashed against its digest; a manifest: by digest it must hash to it, by tag its digest is
//     what the signature gate verifies) — real registries send blobs to CDNs (Docker Hub, ghcr.io, quay.io) and some
//     send manifests to a backend registry (registry.k8s.io). Tag lists, referrers and Range answers are passed on
//     as they come, so they must come from the upstream itself;
//   - credentials go to a token realm only on the upstream's own host or a host the operator listed (tokenRealms,
//     plus KNOWN_TOKEN_REALMS);
//   - whatever is followed may reach only public addresses, unless it is what the operator configured (the
//     upstream's url, its tokenRealms) or the upstream has allowPrivateNetworks: true. An IP literal is refused here
//     before any request; a host name is checked at connect time on the addresses it resolves to (address-guard.ts),
//     so a public-looking name that resolves to 127.0.0.1 is refused as well.
// Token endpoints are never redirected: their answers are read as they come (auth.ts), a 3xx is an error.
import { KNOWN_TOKEN_REALMS, type UpstreamConfig } from '../config/types.ts';
import { SigwardError } from '../errors.ts';
import { literalNonPublicReason } from './addresses.ts';
import type { RequestKind } from './status.ts';

/** What the boundary needs to know about a request to judge a redirect of it. */
export interface BoundaryRequest {
  readonly method: string;
  readonly kind: RequestKind;
  readonly headers?: Readonly<Record<string, string>>;
}

const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'https:': '443', 'http:': '80' };

/** `url.host` with its port always spelled out, so `auth.example.com:443` in config matches `https://auth.example.com`. */
const hostWithPort = (url: URL): string =>
  url.port !== '' ? url.host : `${url.host}:${DEFAULT_PORTS[url.protocol] ?? ''}`;

export class UpstreamBoundary {
  /** The configured upstream host, for messages. */
  readonly upstream: string;
  readonly allowPrivateNetworks: boolean;
  private readonly own: URL;
  /** Hosts (as `host:port`) the operator configured for this upstream: its url's and its token realms'. */
  private readonly configuredHosts: ReadonlySet<string>;
  private readonly realms: readonly string[];

  constructor(cfg: Pick<UpstreamConfig, 'host' | 'url' | 'tokenRealms' | 'allowPrivateNetworks'>) {
    this.upstream = cfg.host;
    this.own = new URL(cfg.url);
    this.allowPrivateNetworks = cfg.allowPrivateNetworks === true;
    this.realms = [...(KNOWN_TOKEN_REALMS.get(this.own.hostname.toLowerCase()) ?? []), ...(cfg.tokenRealms ?? [])];
    const hosts = new Set([hostWithPort(this.own)]);
    for (const r of this.realms) {
      // A realm entry without a port names the host on either default port (https or http).
      const u = new URL(`https://${r}`);
      if (u.port !== '') hosts.add(u.host);
      else for (const port of Object.values(DEFAULT_PORTS)) hosts.add(`${u.host}:${port}`);
    }
    this.configuredHosts = hosts;
  }

  /** Whether `url` is on a host the operator configured for this upstream (its url's host, its token realms). */
  configured(url: URL): boolean {
    return this.configuredHosts.has(hostWithPort(url));
  }

  /** Whether connections for this upstream to `url` may reach non-public addresses (see address-guard.ts). */
  mayReachPrivate(url: URL): boolean {
    return this.allowPrivateNetworks || this.configured(url);
  }

  /** Throws UPSTREAM_INVALID unless a redirect of `req` from `from` to `to` may be followed. */
  checkRedirect(req: BoundaryRequest, from: URL, to: URL): void {
    if (to.origin === this.own.origin) return;
    const what = `upstream ${this.upstream} redirected ${req.method} ${from.origin}${from.pathname} to ${to.origin}`;
    if (!followsAcrossOrigins(req)) {
      throw refused(
        `${what}, another origin; sigward follows redirects away from an upstream only for whole blob and manifest downloads, whose bytes it checks, never for ${describeKind(req)}; nothing was passed on`,
        this.upstream,
        'upstream redirect refused',
      );
    }
    this.checkPublic(what, to);
  }

  /** Throws UPSTREAM_INVALID unless a redirect of `req` from `from` to `to` may be handed to the client (`blobs:
   * redirect`): sigward passes no bytes of it, Range requests included, but never points a client into non-public
   * networks either. */
  checkHandOut(req: BoundaryRequest, from: URL, to: URL): void {
    this.checkPublic(
      `upstream ${this.upstream} redirected ${req.method} ${from.origin}${from.pathname} to ${to.origin}`,
      to,
    );
  }

  private checkPublic(what: string, to: URL): void {
    const why = this.mayReachPrivate(to) ? undefined : literalNonPublicReason(to.hostname);
    if (why !== undefined) {
      throw refused(
        `${what}, a ${why} address; sigward does not follow an upstream into non-public networks. If this upstream really stores its blobs there, set allowPrivateNetworks: true for upstream ${this.upstream}`,
        this.upstream,
        'upstream redirect refused',
      );
    }
  }

  /** Throws UPSTREAM_INVALID unless a token may be asked for at `realm` (with the configured credentials or without). */
  checkRealm(realm: URL, withCredentials: boolean): void {
    if (this.configured(realm)) return;
    const known = this.realms.length === 0 ? '' : ` (now: ${this.realms.join(', ')})`;
    if (withCredentials) {
      throw refused(
        `upstream ${this.upstream} asked for a token from ${realm.origin}, which is not its own host (${this.own.host}); sigward sends the credentials configured for an upstream only to its own host and to the hosts in its tokenRealms${known}. If that token service belongs to the registry, add tokenRealms: [${realm.host}] to upstream ${this.upstream}`,
        this.upstream,
        'upstream token realm refused',
      );
    }
    const why = this.allowPrivateNetworks ? undefined : literalNonPublicReason(realm.hostname);
    if (why !== undefined) {
      throw refused(
        `upstream ${this.upstream} asked for a token from ${realm.origin}, a ${why} address that is not its own host; sigward does not follow an upstream into non-public networks. If that token service belongs to the registry, add tokenRealms: [${realm.host}] (or allowPrivateNetworks: true) to upstream ${this.upstream}`,
        this.upstream,
        'upstream token realm refused',
      );
    }
  }

  /** The error for a connection the address guard refused, with this upstream's name and the setting that allows it. */
  refusedConnection(
    message: string,
    req: { method: string; kind: RequestKind },
    url: URL,
    cause: unknown,
  ): SigwardError {
    const fix =
      req.kind === 'token'
        ? `If that token service belongs to the registry, add tokenRealms: [${url.host}] (or allowPrivateNetworks: true) to upstream ${this.upstream}`
        : `If that is intended, set allowPrivateNetworks: true for upstream ${this.upstream}`;
    return refused(
      `upstream ${this.upstream} sent ${req.method} ${url.origin}${url.pathname} to a non-public network: ${message}. ${fix}`,
      this.upstream,
      req.kind === 'token' ? 'upstream token realm refused' : 'upstream redirect refused',
      cause,
    );
  }
}

/** Downloads whose bytes are checked after they arrive, so where they come from does not matter to what is served. */
function followsAcrossOrigins(req: BoundaryRequest): boolean {
  if (req.kind === 'manifest') return true;
  if (req.kind !== 'blob') return false;
  // Part of a blob cannot be checked against its digest.
  return !Object.keys(req.headers ?? {}).some((h) => h.toLowerCase() === 'range');
}

function describeKind(req: BoundaryRequest): string {
  if (req.kind === 'blob') return 'a Range request (a part of a blob cannot be checked against its digest)';
  if (req.kind === 'tags') return 'tag lists (they are passed on as they come)';
  if (req.kind === 'referrers') return 'referrers lists (they are passed on as they come)';
  return `${req.kind} requests`;
}

function refused(message: string, upstream: string, reason: string, cause?: unknown): SigwardError {
  return new SigwardError('UPSTREAM_INVALID', message, {
    detail: { upstream },
    reason,
    ...(cause === undefined ? {} : { cause }),
  });
}
