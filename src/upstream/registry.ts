// All configured upstreams: one UpstreamClient each, sharing the dispatchers (one connection pool per origin): the
// direct Agent for what the operator configured, the guarded one for where upstreams point (dispatcher.ts). Clients
// and dispatchers are leased from a pool (pool.ts), the process's own in the daemon, so a reload reuses what it left
// unchanged.
// Secrets (passwords, CA bundles) are what loadConfig() already read and checked: reading files and the environment
// is the loader's job, where a problem is reported with its YAML line.
import type { Dispatcher } from 'undici';
import type { Limits, UpstreamConfig } from '../config/types.ts';
import { duplicateUpstreamNames, upstreamNames } from '../config/upstream-names.ts';
import { SigwardError } from '../errors.ts';
import { clip } from '../util/clip.ts';
import type { OnRequest } from './auth.ts';
import type { SigwardMetrics } from '../metrics/metrics.ts';
import type { UpstreamClient } from './client.ts';
import type { DispatcherOptions } from './dispatcher.ts';
import { UpstreamPool, type UpstreamLease } from './pool.ts';

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
  /** The process's pool (app.ts createShared): an upstream a reload left unchanged keeps its client (connections,
   * tokens) across generations. Default: a pool of this Upstreams' own. */
  readonly pool?: UpstreamPool;
}

export class Upstreams {
  readonly dispatcher: Dispatcher;
  private readonly lease: UpstreamLease;
  private readonly byName = new Map<string, UpstreamClient>();
  private readonly clients: readonly UpstreamClient[];

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
    this.lease = (opts.pool ?? new UpstreamPool()).lease(upstreams, {
      ...opts,
      passwords,
      caPems: opts.caPems ?? new Map(),
    });
    this.dispatcher = this.lease.dispatcher;
    this.clients = this.lease.clients;
    upstreams.forEach((u, i) => {
      for (const name of upstreamNames(u)) this.byName.set(name, this.clients[i] as UpstreamClient);
    });
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

  /** Give back this generation's clients; dispatchers no other generation uses are closed. */
  async close(graceMs?: number): Promise<void> {
    await this.lease.release(graceMs);
  }
}
