// The upstream clients and connection pools of a process, leased to each app generation (registry.ts Upstreams). A
// reload builds a new generation while the old one drains: what the new configuration leaves as it was is the same
// object in both (an unchanged upstream keeps its pooled connections, its bearer tokens and what it learned about the
// upstream), and a dispatcher is closed only when the last generation using it is.
//
// What is shared, by what it was built from:
// - the direct Agent: the per-origin connection settings of every configured upstream (origin, connect timeout,
//   caFile PEM). Adding, removing or moving an upstream, or changing a caFile or a connect timeout, builds a new one
//   (and so new clients for every upstream): a connection opened under one CA bundle is never lent to a generation
//   configured with another. The guarded Agent (redirect targets, token realms) comes with it.
// - a client: its upstream's whole configuration, its password and the limits, on a shared direct Agent.
import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { Limits, UpstreamConfig } from '../config/types.ts';
import type { OnRequest } from './auth.ts';
import type { SigwardMetrics } from '../metrics/metrics.ts';
import { UpstreamClient } from './client.ts';
import { UpstreamBoundary } from './boundary.ts';
import {
  BoundaryDispatcher,
  closeDispatcher,
  createDispatcher,
  createGuardedDispatcher,
  originOf,
  type DispatcherOptions,
} from './dispatcher.ts';

/** What a lease is built from (UpstreamsOptions, checked by Upstreams). */
export interface LeaseOptions {
  readonly limits: Limits;
  readonly passwords: ReadonlyMap<string, string>;
  readonly caPems: ReadonlyMap<string, string>;
  readonly dispatcher?: Dispatcher;
  readonly dispatcherOptions?: DispatcherOptions;
  readonly now?: () => number;
  readonly onRequest?: OnRequest;
  readonly metrics?: Pick<SigwardMetrics, 'upstream' | 'cache'>;
}

/** One generation's share of the pool: a client per configured upstream, in configuration order. */
export interface UpstreamLease {
  readonly dispatcher: Dispatcher;
  readonly clients: readonly UpstreamClient[];
  /** Give the lease back: dispatchers no other lease uses are closed (`graceMs`: see closeDispatcher). */
  release(graceMs?: number): Promise<void>;
}

interface Agents {
  readonly direct: Dispatcher;
  /** None with an injected dispatcher (its owner's business). */
  readonly guarded: Dispatcher | undefined;
  readonly owned: boolean;
  users: number;
}

interface PooledClient {
  readonly client: UpstreamClient;
  users: number;
}

export class UpstreamPool {
  private readonly agents = new Map<string, Agents>();
  private readonly clients = new Map<string, PooledClient>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 0;

  /** Dispatchers and clients open now (tests: a reload that changes nothing opens nothing). */
  get size(): { agents: number; clients: number } {
    return { agents: this.agents.size, clients: this.clients.size };
  }

  lease(upstreams: readonly UpstreamConfig[], opts: LeaseOptions): UpstreamLease {
    const agentsKey = this.agentsKey(upstreams, opts);
    let agents = this.agents.get(agentsKey);
    if (agents === undefined) {
      const injected = opts.dispatcher;
      agents = {
        direct: injected ?? createDispatcher(upstreams, opts.caPems, opts.dispatcherOptions),
        guarded: injected === undefined ? createGuardedDispatcher(opts.dispatcherOptions) : undefined,
        owned: injected === undefined,
        users: 0,
      };
      this.agents.set(agentsKey, agents);
    }
    agents.users++;
    const held = agents;
    const deps = [opts.now, opts.onRequest, opts.metrics].map((o) => (o === undefined ? '-' : this.idOf(o)));
    const keys: string[] = [];
    const clients = upstreams.map((u) => {
      const pw = u.auth.kind === 'basic' ? opts.passwords.get(u.host) : undefined;
      const key = digestKey([agentsKey, u, pw ?? null, opts.limits, deps]);
      keys.push(key);
      let pooled = this.clients.get(key);
      if (pooled === undefined) {
        pooled = { client: newClient(u, held, opts, pw), users: 0 };
        this.clients.set(key, pooled);
      }
      pooled.users++;
      return pooled.client;
    });
    let released = false;
    return {
      dispatcher: held.direct,
      clients,
      release: async (graceMs) => {
        if (released) return;
        released = true;
        for (const key of keys) {
          const pooled = this.clients.get(key);
          if (pooled !== undefined && --pooled.users === 0) this.clients.delete(key);
        }
        if (--held.users > 0) return;
        this.agents.delete(agentsKey);
        if (!held.owned) return;
        await Promise.all([
          closeDispatcher(held.direct, graceMs),
          held.guarded === undefined ? undefined : closeDispatcher(held.guarded, graceMs),
        ]);
      },
    };
  }

  /** The settings the direct Agent is built from (createDispatcher), or the injected dispatcher's identity. */
  private agentsKey(upstreams: readonly UpstreamConfig[], opts: LeaseOptions): string {
    const options = opts.dispatcherOptions === undefined ? '-' : this.idOf(opts.dispatcherOptions);
    if (opts.dispatcher !== undefined) return digestKey(['injected', this.idOf(opts.dispatcher), options]);
    const origins = upstreams.map((u) => [originOf(u), u.timeouts.connectMs, opts.caPems.get(u.host) ?? null]);
    return digestKey([origins, options]);
  }

  private idOf(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) {
      id = ++this.nextId;
      this.ids.set(o, id);
    }
    return id;
  }
}

/** A map key for settings: their SHA-256, so the maps hold neither CA bundles (once per upstream per key) nor
 * passwords, only 64 hex characters. */
function digestKey(settings: unknown): string {
  return createHash('sha256').update(JSON.stringify(settings)).digest('hex');
}

function newClient(u: UpstreamConfig, agents: Agents, opts: LeaseOptions, pw: string | undefined): UpstreamClient {
  return new UpstreamClient(u, {
    dispatcher:
      agents.guarded === undefined
        ? agents.direct
        : new BoundaryDispatcher(new UpstreamBoundary(u), agents.direct, agents.guarded),
    limits: opts.limits,
    ...(pw === undefined ? {} : { password: pw }),
    ...(opts.now === undefined ? {} : { now: opts.now }),
    ...(opts.onRequest === undefined ? {} : { onRequest: opts.onRequest }),
    ...(opts.metrics && { observer: opts.metrics.upstream(u.host), tokenCache: opts.metrics.cache('tokens') }),
  });
}
