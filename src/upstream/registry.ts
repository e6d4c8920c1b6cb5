// All configured upstreams: one UpstreamClient each, sharing the dispatchers (one connection pool per origin): the
// direct Agent for what the operator configured, the guarded one for where upstreams point (dispatcher.ts).
// Secrets (passwords, CA bundles) are what loadConfig() already read and checked: reading files and the environment
// is the loader's job, where a problem is reported with its YAML line.
import type { Dispatcher } from 'undici';
import type { Limits, UpstreamConfig } from '../config/types.ts';
import { duplicateUpstreamNames, upstreamNames } from '../config/upstream-names.ts';
import { SigwardError } from '../errors.ts';
import { clip } from '../util/clip.ts';
import type { OnRequest } from './auth.ts';
import type { SigwardMetrics } from '../metrics/metrics.ts';
import { UpstreamClient } from './client.ts';
import { UpstreamBoundary } from './boundary.ts';
import {
  BoundaryDispatcher,
  closeDispatcher,
  createDispatcher,
  createGuardedDispatcher,
  type DispatcherOptions,
} from './dispatcher.ts';

export interface UpstreamsOptions {
  readonly limits: Limits;
  /** Basic passwords by upstream host, as loadConfig() resolved them (default none). */
  readonly passwords?: ReadonlyMap<string, string>;
  /** PEM CA bundles by upstream host, as loadConfig() read them (default none). */
  readonly caPems?: ReadonlyMap<string, string>;
  /** An injected dispatcher (tests, fault injection). It is not closed by close(), and caFile trust and the
   * connect-time address check (address-guard.ts) are then its owner's business; the request-level checks of
   * boundary.ts still apply. Default: the Agents of createDispatcher() and createGuardedDispatcher(), owned and
   * closed here. */
  readonly dispatcher?: Dispatcher;
  readonly dispatcherOptions?: DispatcherOptions;
  readonly now?: () => number;
  readonly onRequest?: OnRequest;
  /** Metrics: per-upstream request time and failures, token caches. Absent: none. */
  readonly metrics?: Pick<SigwardMetrics, 'upstream' | 'cache'>;
}

export class Upstreams {
  readonly dispatcher: Dispatcher;
  /** The Agent for redirect targets and token realms outside what was configured; none with an injected dispatcher. */
  private readonly guarded: Dispatcher | undefined;
  private readonly ownsDispatcher: boolean;
  private readonly byName = new Map<string, UpstreamClient>();
  private readonly clients: UpstreamClient[] = [];

  constructor(upstreams: readonly UpstreamConfig[], opts: UpstreamsOptions) {
    const duplicate = duplicateUpstreamNames(upstreams)[0];
    if (duplicate !== undefined) {
      throw new SigwardError(
        'CONFIG_INVALID',
        `registry name ${duplicate.name} is configured for more than one upstream; each host or alias may appear once`,
      );
    }
    const passwords = opts.passwords ?? new Map<string, string>();
    for (const u of upstreams) {
      if (u.auth.kind === 'basic' && !passwords.has(u.host)) {
        throw new SigwardError(
          'CONFIG_INVALID',
          `upstream ${u.host} uses basic auth but no password was found for it; set passwordFile or passwordEnv`,
        );
      }
    }
    this.ownsDispatcher = opts.dispatcher === undefined;
    this.dispatcher = opts.dispatcher ?? createDispatcher(upstreams, opts.caPems ?? new Map(), opts.dispatcherOptions);
    this.guarded = opts.dispatcher === undefined ? createGuardedDispatcher(opts.dispatcherOptions) : undefined;
    for (const u of upstreams) {
      const pw = u.auth.kind === 'basic' ? passwords.get(u.host) : undefined;
      const client = new UpstreamClient(u, {
        dispatcher:
          this.guarded === undefined
            ? this.dispatcher
            : new BoundaryDispatcher(new UpstreamBoundary(u), this.dispatcher, this.guarded),
        limits: opts.limits,
        ...(pw === undefined ? {} : { password: pw }),
        ...(opts.now === undefined ? {} : { now: opts.now }),
        ...(opts.onRequest === undefined ? {} : { onRequest: opts.onRequest }),
        ...(opts.metrics && { observer: opts.metrics.upstream(u.host), tokenCache: opts.metrics.cache('tokens') }),
      });
      this.clients.push(client);
      for (const name of upstreamNames(u)) this.byName.set(name, client);
    }
  }

  /** The client for a registry host or alias. Unknown names are refused: only configured upstreams are contacted. */
  get(host: string): UpstreamClient {
    const client = this.byName.get(host.toLowerCase());
    if (client === undefined) {
      const known = this.clients.map((c) => c.host).join(', ') || 'none';
      throw new SigwardError(
        'UPSTREAM_UNKNOWN',
        `registry ${clip(host)} is not a configured upstream (configured: ${known}); add it under upstreams to use it`,
        {
          detail: { host: clip(host) },
        },
      );
    }
    return client;
  }

  /** Every client, in configuration order. */
  all(): readonly UpstreamClient[] {
    return this.clients;
  }

  async close(graceMs?: number): Promise<void> {
    if (!this.ownsDispatcher) return;
    await Promise.all([
      closeDispatcher(this.dispatcher, graceMs),
      this.guarded === undefined ? undefined : closeDispatcher(this.guarded, graceMs),
    ]);
  }
}
