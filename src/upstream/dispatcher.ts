// The one undici Agent every upstream request goes through (one injected Agent, never a global dispatcher:
// tests and fault injection replace it). Connections are pooled and kept alive per origin; pipelining stays at 1
// because registries and
// the proxies in front of them do not all handle pipelined requests well, and a stalled blob would block the queue.
//
// TLS trust is chosen per origin: an upstream with `caFile` trusts exactly that bundle (it replaces the system store
// for that origin only), every other origin (token realms, blob storage redirects, upstreams without caFile) uses
// the system defaults. undici calls the connector with the origin's protocol and host, which is how we pick.
//
// Connections an upstream's redirects and token realms lead to go through a second Agent, the guarded one, which
// connects to public addresses only (address-guard.ts). Each upstream gets a BoundaryDispatcher that picks the Agent
// per request: the two pools never share a connection, so a socket opened for an upstream allowed into private
// networks is never reused for one that is not.
import { lookup as dnsLookup } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Agent, buildConnector, Dispatcher } from 'undici';
import { caPemProblem } from '../config/ca-pem.ts';
import { DEFAULT_TIMEOUTS, type UpstreamConfig } from '../config/types.ts';
import { SigwardError } from '../errors.ts';
import { nonPublicReason, type AddressClassifier } from './addresses.ts';
import { checkedLookup, guardLiterals } from './address-guard.ts';
import type { UpstreamBoundary } from './boundary.ts';

/** Parallel connections per origin: enough for a runtime pulling several layers at once, bounded for the upstream. */
export const CONNECTIONS_PER_ORIGIN = 32;

export interface DispatcherOptions {
  /** Connections per origin (default CONNECTIONS_PER_ORIGIN). */
  readonly connections?: number;
  /** Idle keep-alive time of a pooled socket, in ms (default 30 s; a server's Keep-Alive hint may shorten it). */
  readonly keepAliveMs?: number;
  /** Resolves host names for every connection (default node's dns.lookup). Tests map made-up names to 127.0.0.1. */
  readonly lookup?: LookupFunction;
  /** Says why an address is not public, for the guarded Agent (default nonPublicReason). Tests use it to make a
   * loopback listener stand in for a public CDN. */
  readonly classify?: AddressClassifier;
}

/**
 * One Agent for all upstreams. `caPems` maps an upstream's `host` (as configured) to the PEM text of its `caFile`,
 * already read by the caller.
 */
export function createDispatcher(
  upstreams: readonly UpstreamConfig[],
  caPems: ReadonlyMap<string, string>,
  opts: DispatcherOptions = {},
): Agent {
  const byOrigin = new Map<string, buildConnector.connector>();
  const pemOf = new Map<string, string | undefined>();
  for (const u of upstreams) {
    const origin = originOf(u);
    const ca = caPems.get(u.host);
    const caProblem = ca === undefined ? undefined : caPemProblem(ca);
    if (caProblem !== undefined) throw new SigwardError('CONFIG_INVALID', `caFile of upstream ${u.host} ${caProblem}`);
    if (pemOf.has(origin)) {
      // Trust is per origin, so two upstreams at one origin must agree on it.
      if (pemOf.get(origin) !== ca) {
        throw new SigwardError(
          'CONFIG_INVALID',
          `upstreams at the same URL origin ${origin} have different caFile settings; give both the same caFile (upstream ${u.host})`,
        );
      }
      continue;
    }
    pemOf.set(origin, ca);
    // Without a caFile the upstream still gets its own connect timeout; TLS options stay the system defaults.
    byOrigin.set(
      origin,
      buildConnector({ timeout: u.timeouts.connectMs, ...(ca === undefined ? {} : { ca }), ...lookupOf(opts) }),
    );
  }
  const fallback = buildConnector({ timeout: DEFAULT_TIMEOUTS.connectMs, ...lookupOf(opts) });

  const connect: buildConnector.connector = (options, callback) => {
    // `host` keeps a non-default port and IPv6 brackets, as in URL.host, so this equals the URL origin.
    const key = `${options.protocol}//${options.host ?? options.hostname}`;
    const connector = byOrigin.get(key) ?? fallback;
    connector(options, callback);
  };

  return new Agent({ ...agentOptions(opts), connect });
}

/**
 * The Agent for where upstreams point (redirect targets, token realms) rather than for what the operator configured:
 * every connection it opens goes to a public address, or fails with NonPublicAddressError. System TLS defaults.
 */
export function createGuardedDispatcher(opts: DispatcherOptions = {}): Agent {
  const classify = opts.classify ?? nonPublicReason;
  const lookup = checkedLookup(opts.lookup ?? dnsLookup, classify);
  const connect = guardLiterals(buildConnector({ timeout: DEFAULT_TIMEOUTS.connectMs, lookup }), classify);
  return new Agent({ ...agentOptions(opts), connect });
}

function agentOptions(opts: DispatcherOptions) {
  return {
    connections: opts.connections ?? CONNECTIONS_PER_ORIGIN,
    pipelining: 1,
    keepAliveTimeout: opts.keepAliveMs ?? 30_000,
    keepAliveMaxTimeout: 10 * 60_000,
  };
}

const lookupOf = (opts: DispatcherOptions): { lookup?: LookupFunction } =>
  opts.lookup === undefined ? {} : { lookup: opts.lookup };

/**
 * One upstream's view of the two Agents: requests to what the operator configured for it (its url, its token realms),
 * or anywhere when it has allowPrivateNetworks, go through `direct`; every other request (a redirect to a CDN, a
 * foreign token realm) through `guarded`. It owns neither: closing them is the owner's business (registry.ts).
 */
export class BoundaryDispatcher extends Dispatcher {
  constructor(
    private readonly boundary: UpstreamBoundary,
    private readonly direct: Dispatcher,
    private readonly guarded: Dispatcher,
  ) {
    super();
  }

  /** Origins already placed (mayReachPrivate depends on the origin alone): no URL parse per request. */
  private readonly placed = new Map<string, boolean>();

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const origin = options.origin === undefined ? undefined : String(options.origin);
    let direct = origin === undefined ? false : this.placed.get(origin);
    if (direct === undefined && origin !== undefined) {
      let url: URL | undefined;
      try {
        url = new URL(origin);
      } catch {
        url = undefined;
      }
      // No usable origin: the guarded Agent refuses or fails it, as it would anything else it cannot place.
      direct = url !== undefined && this.boundary.mayReachPrivate(url);
      if (this.placed.size >= PLACED_ORIGINS) this.placed.clear();
      this.placed.set(origin, direct);
    }
    return (direct === true ? this.direct : this.guarded).dispatch(options, handler);
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    if (callback === undefined) return Promise.resolve();
    queueMicrotask(callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const callback = typeof a === 'function' ? a : b;
    if (callback === undefined) return Promise.resolve();
    queueMicrotask(callback);
  }
}

/** Origins a BoundaryDispatcher remembers (its upstream, token realms, storage hosts); emptied when full. */
const PLACED_ORIGINS = 256;

/** The origin (scheme://host[:port]) requests to this upstream go to. */
export function originOf(u: UpstreamConfig): string {
  return new URL(u.url).origin;
}

/**
 * Close gracefully (in-flight requests finish), but never wait more than `graceMs`: a blob streaming to a slow
 * client must not hold up shutdown forever.
 */
export async function closeDispatcher(dispatcher: Dispatcher, graceMs = 5_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
    timer.unref();
  });
  try {
    const outcome = await Promise.race([dispatcher.close().then(() => 'closed' as const), timedOut]);
    if (outcome === 'timeout') await dispatcher.destroy();
  } finally {
    clearTimeout(timer);
  }
}
