// The daemon's Prometheus metrics (prom-client), on a registry of their own. One SigwardMetrics is made per process
// (cli/serve.ts) and handed to every createApp generation, so counters survive a config reload. Label values are
// bounded: routes are a fixed set, policies and upstreams are the configured names, classes and outcomes are
// enums; no repository, tag or digest ever becomes a label. Children are bound once per label set and kept, so a
// request costs a map lookup and an increment.
import { createRequire } from 'node:module';
import type * as PromClientModule from 'prom-client';
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';

// prom-client (~20 MiB of resident memory once loaded) is loaded when the first SigwardMetrics is made, not when this
// module is imported: with metrics off (the default) the daemon never loads it.
type PromClient = typeof PromClientModule;
let prom: PromClient | undefined;
const promClient = (): PromClient => (prom ??= createRequire(import.meta.url)('prom-client') as PromClient);
import type {
  ByteCounter,
  CacheName,
  CacheObserver,
  DecisionObserver,
  LookupObserver,
  LookupResult,
  RequestObserver,
  StoreUsage,
  UpstreamObserver,
} from './observers.ts';
import { ROUTES, routeOf, type RouteLabel } from './route.ts';
import { UPSTREAM_ERROR_CLASSES, upstreamErrorClass } from './upstream-errors.ts';

/** Seconds: from a cached answer (well under a millisecond) to an upstream at its timeout. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface MetricsOptions {
  /** Wall clock in milliseconds, for the reload timestamp (tests); default Date.now. */
  readonly now?: () => number;
}

type Child = { inc(n?: number): void };
type Observed = { observe(v: number): void };

export class SigwardMetrics implements RequestObserver, DecisionObserver, LookupObserver {
  readonly registry: Registry;
  private readonly now: () => number;
  private processStarted = false;

  private readonly requests: Counter<'route' | 'status'>;
  private readonly requestSeconds: Histogram<'route'>;
  private readonly decisions: Counter<'policy' | 'outcome' | 'cached'>;
  private readonly verificationSeconds: Histogram<'policy'>;
  private readonly lookups: Counter<'result'>;
  private readonly upstreamSeconds: Histogram<'upstream'>;
  private readonly upstreamErrors: Counter<'upstream' | 'class'>;
  /** Errors already counted (weakly held: the error objects go when their requests do). */
  private readonly countedErrors = new WeakSet<object>();
  private readonly cacheHits: Counter<'cache'>;
  private readonly cacheMisses: Counter<'cache'>;
  private readonly cacheEvictions: Counter<'cache'>;
  private readonly servedBytes: Counter<'route'>;
  private readonly failStatic: Counter<'upstream'>;
  private readonly generation: Gauge;
  private readonly reloads: Counter<'result'>;
  private readonly lastReloadOk: Gauge;
  private readonly lastReloadTime: Gauge;

  /** route -> status -> child; built on first use. */
  private readonly requestChildren = new Map<RouteLabel, Map<number, Child>>();
  private readonly requestSecondsChildren = new Map<RouteLabel, Observed>();
  /** policy -> outcome -> [fresh, cached] children. */
  private readonly decisionChildren = new Map<string, Map<string, [Child, Child]>>();
  private readonly verificationChildren = new Map<string, Observed>();
  private readonly upstreamObservers = new Map<string, UpstreamObserver>();
  private readonly cacheObservers = new Map<CacheName, CacheObserver>();
  private readonly failStaticChildren = new Map<string, Child>();
  private readonly lookupFound: Child;
  private readonly lookupNone: Child;
  private readonly lookupFailed: Child;
  private storeUsage: (() => StoreUsage | undefined) | undefined;

  /** Bytes of response bodies written to clients: v2 blob relays and sget files. */
  readonly served: { readonly blob: ByteCounter; readonly sget: ByteCounter };

  constructor(opts: MetricsOptions = {}) {
    const { Counter, Gauge, Histogram, Registry } = promClient();
    this.registry = new Registry();
    this.now = opts.now ?? Date.now;
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'sigward_http_requests_total',
      help: 'HTTP requests answered, by route (a fixed set) and status code.',
      labelNames: ['route', 'status'],
      registers,
    });
    this.requestSeconds = new Histogram({
      name: 'sigward_http_request_duration_seconds',
      help: 'Time from a request arriving to its answer being written or the client leaving, by route.',
      labelNames: ['route'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.decisions = new Counter({
      name: 'sigward_verification_decisions_total',
      help: 'Policy decisions on manifests, by policy name, outcome, and whether they came from memory (cached="true": a stored verdict or one decided without signatures).',
      labelNames: ['policy', 'outcome', 'cached'],
      registers,
    });
    this.verificationSeconds = new Histogram({
      name: 'sigward_verification_duration_seconds',
      help: 'Time a fresh verification took (signature lookup and checks), by policy name.',
      labelNames: ['policy'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.lookups = new Counter({
      name: 'sigward_signature_lookups_total',
      help: 'Signature lookups at upstreams, by result: found (at least one signature artifact), none, failed (could not verify).',
      labelNames: ['result'],
      registers,
    });
    this.upstreamSeconds = new Histogram({
      name: 'sigward_upstream_request_duration_seconds',
      help: 'Time from sending a request to an upstream to its response head, by configured upstream host.',
      labelNames: ['upstream'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.upstreamErrors = new Counter({
      name: 'sigward_upstream_errors_total',
      help: `Failed upstream requests, by configured upstream host and class (${UPSTREAM_ERROR_CLASSES.join(', ')}).`,
      labelNames: ['upstream', 'class'],
      registers,
    });
    this.cacheHits = new Counter({
      name: 'sigward_cache_hits_total',
      help: 'Cache lookups that found an entry, by cache.',
      labelNames: ['cache'],
      registers,
    });
    this.cacheMisses = new Counter({
      name: 'sigward_cache_misses_total',
      help: 'Cache lookups that found nothing, by cache.',
      labelNames: ['cache'],
      registers,
    });
    this.cacheEvictions = new Counter({
      name: 'sigward_cache_evictions_total',
      help: 'Entries pushed out of a cache to make room (expiries not counted), by cache.',
      labelNames: ['cache'],
      registers,
    });
    this.servedBytes = new Counter({
      name: 'sigward_served_bytes_total',
      help: 'Response body bytes written to clients, by route (blob: /v2/ blobs, sget: verified downloads).',
      labelNames: ['route'],
      registers,
    });
    this.failStatic = new Counter({
      name: 'sigward_fail_static_served_total',
      help: 'Answers served from remembered state because the upstream could not be reached, by configured upstream host.',
      labelNames: ['upstream'],
      registers,
    });
    this.generation = new Gauge({
      name: 'sigward_config_generation',
      help: 'Generation of the configuration in use, as /readyz reports it: 1 at start, +1 for each reload applied and each refreshed TUF root that changed the policy.',
      registers,
    });
    this.reloads = new Counter({
      name: 'sigward_config_reloads_total',
      help: 'Configuration reload attempts, by result (success, failure).',
      labelNames: ['result'],
      registers,
    });
    this.lastReloadOk = new Gauge({
      name: 'sigward_config_last_reload_success',
      help: 'Whether the last configuration load or reload succeeded (1) or failed (0; the previous configuration stays in use).',
      registers,
    });
    this.lastReloadTime = new Gauge({
      name: 'sigward_config_last_reload_success_timestamp_seconds',
      help: 'Unix time of the last successful configuration load or reload.',
      registers,
    });
    this.storeGauge('sigward_sget_store_bytes', 'Bytes of verified files held in the sget store.', (u) => u.bytes);
    this.storeGauge('sigward_sget_store_files', 'Verified files held in the sget store.', (u) => u.files);
    this.storeGauge(
      'sigward_sget_store_capacity_bytes',
      'Disk budget of the sget store (sget.storeSize).',
      (u) => u.capacity,
    );
    this.lookupFound = this.lookups.labels('found');
    this.lookupNone = this.lookups.labels('none');
    this.lookupFailed = this.lookups.labels('failed');
    // Series that exist from the start (at 0), so rates and alerts have something to compare against.
    for (const c of [this.lookupFound, this.lookupNone, this.lookupFailed]) c.inc(0);
    for (const r of ['success', 'failure']) this.reloads.labels(r).inc(0);
    const blob = this.servedBytes.labels('blob');
    const sget = this.servedBytes.labels('sget');
    blob.inc(0);
    sget.inc(0);
    this.served = { blob: { add: (n) => blob.inc(n) }, sget: { add: (n) => sget.inc(n) } };
  }

  /** A gauge read from the current store's usage when scraped (absent until an app handed its store). */
  private storeGauge(name: string, help: string, pick: (u: StoreUsage) => number): void {
    const gauge: Gauge = new (promClient().Gauge)({
      name,
      help,
      registers: [this.registry],
      collect: () => {
        const u = this.storeUsage?.();
        if (u !== undefined) gauge.set(pick(u));
      },
    });
  }

  /** Node's process metrics (CPU, memory, event loop lag, GC) under their standard names; once, when metrics are on. */
  collectProcessMetrics(): void {
    if (this.processStarted) return;
    this.processStarted = true;
    promClient().collectDefaultMetrics({ register: this.registry });
  }

  /** The exposition text and its content type (Prometheus text format 0.0.4). */
  async text(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }

  // --- configuration (the reload path) ---

  /** A configuration became the one in use: at start (generation 1) and after each successful reload. */
  configLoaded(generation: number): void {
    this.generation.set(generation);
    this.lastReloadOk.set(1);
    this.lastReloadTime.set(this.now() / 1000);
  }

  /** A refreshed TUF root changed the policy: a new generation, not a reload. */
  policyRefreshed(generation: number): void {
    this.generation.set(generation);
  }

  /** The result of one reload attempt (SIGHUP, `sigward reload`). */
  reloadResult(ok: boolean): void {
    this.reloads.labels(ok ? 'success' : 'failure').inc();
    this.lastReloadOk.set(ok ? 1 : 0);
    if (ok) this.lastReloadTime.set(this.now() / 1000);
  }

  /** An answer served from remembered state because `upstream` (a configured host) could not be reached. */
  failStaticServed(upstream: string): void {
    let c = this.failStaticChildren.get(upstream);
    if (c === undefined) this.failStaticChildren.set(upstream, (c = this.failStatic.labels(upstream)));
    c.inc();
  }

  // --- the HTTP edge ---

  request(path: string, status: number, start: bigint): void {
    const route = routeOf(path);
    let byStatus = this.requestChildren.get(route);
    if (byStatus === undefined) this.requestChildren.set(route, (byStatus = new Map<number, Child>()));
    let c = byStatus.get(status);
    if (c === undefined) byStatus.set(status, (c = this.requests.labels(route, String(status))));
    c.inc();
    let h = this.requestSecondsChildren.get(route);
    if (h === undefined) this.requestSecondsChildren.set(route, (h = this.requestSeconds.labels(route)));
    h.observe(Number(process.hrtime.bigint() - start) / 1e9);
  }

  // --- the gate ---

  decision(policy: string, outcome: string, cached: boolean, ms: number): void {
    let byOutcome = this.decisionChildren.get(policy);
    if (byOutcome === undefined) this.decisionChildren.set(policy, (byOutcome = new Map<string, [Child, Child]>()));
    let pair = byOutcome.get(outcome);
    if (pair === undefined) {
      pair = [this.decisions.labels(policy, outcome, 'false'), this.decisions.labels(policy, outcome, 'true')];
      byOutcome.set(outcome, pair);
    }
    pair[cached ? 1 : 0].inc();
    if (cached) return;
    let h = this.verificationChildren.get(policy);
    if (h === undefined) this.verificationChildren.set(policy, (h = this.verificationSeconds.labels(policy)));
    h.observe(ms / 1000);
  }

  signatureLookup<T extends LookupResult>(lookup: Promise<T>): Promise<T> {
    return lookup.then(
      (found) => {
        (found.signatures.length + found.unreadable.length > 0 ? this.lookupFound : this.lookupNone).inc();
        return found;
      },
      (e: unknown) => {
        this.lookupFailed.inc();
        throw e;
      },
    );
  }

  // --- upstreams and caches: observers bound to their label, one per name ---

  upstream(host: string): UpstreamObserver {
    let o = this.upstreamObservers.get(host);
    if (o !== undefined) return o;
    const seconds = this.upstreamSeconds.labels(host);
    const errors = this.upstreamErrors;
    const byClass = new Map<string, Child>();
    const counted = this.countedErrors;
    o = {
      responded: (startMs) => seconds.observe((performance.now() - startMs) / 1000),
      failed: (e) => {
        // One failure is seen on its way out at more than one place (the transport, the client): counted once.
        if (e !== null && typeof e === 'object') {
          if (counted.has(e)) return;
          counted.add(e);
        }
        // A 404 (MANIFEST_UNKNOWN, …) is an answer, and a request sigward gave up is not the upstream's failure.
        const cls = upstreamErrorClass(e);
        if (cls === undefined) return;
        let c = byClass.get(cls);
        if (c === undefined) byClass.set(cls, (c = errors.labels(host, cls)));
        c.inc();
      },
    };
    this.upstreamObservers.set(host, o);
    return o;
  }

  cache(name: CacheName): CacheObserver {
    let o = this.cacheObservers.get(name);
    if (o !== undefined) return o;
    const hit = this.cacheHits.labels(name);
    const miss = this.cacheMisses.labels(name);
    const evicted = this.cacheEvictions.labels(name);
    o = { hit: () => hit.inc(), miss: () => miss.inc(), evicted: () => evicted.inc() };
    this.cacheObservers.set(name, o);
    return o;
  }

  /** Where the sget store's usage is read when scraped; each app generation hands its store's. */
  sgetStore(usage: () => StoreUsage | undefined): void {
    this.storeUsage = usage;
  }
}

export { ROUTES, routeOf, type RouteLabel };
