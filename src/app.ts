// createApp wires configuration, upstream clients, caches and HTTP routes together. It never listens: the caller
// (cli/serve.ts, tests, the benchmark) decides where to serve it.
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import type { Hono } from 'hono';
import type { LoadedConfig } from './config/load.ts';
import { createLogger, type Logger } from './log.ts';
import { Router } from './http/routing.ts';
import {
  buildRoutes,
  nodeListener,
  sigwardFetch,
  type Env,
  type FetchHandler,
  type NodeListener,
} from './http/routes.ts';
import { ManifestService } from './proxy/manifests.ts';
import { ProxyService } from './proxy/service.ts';
import type { ClientProvider } from './proxy/types.ts';
import { Upstreams } from './upstream/registry.ts';
import { UpstreamPool } from './upstream/pool.ts';
import { attachmentLimits, legacyRepoMemory, SignatureGate } from './proxy/gate.ts';
import { ByteBudget } from './proxy/byte-budget.ts';
import type { Digest } from './oci/digest.ts';
import { HashThread } from './proxy/hash-thread.ts';
import { VerdictCache } from './proxy/verdicts.ts';
import { ReferencedBlobs } from './proxy/referenced-blobs.ts';
import { discoveryLimits } from './proxy/signatures.ts';
import { SgetService } from './sget/service.ts';
import { StoreBlobCache } from './sget/blob-cache.ts';
import { BlobStore } from './sget/store.ts';
import { Readiness, type ReloadStatus } from './http/readiness.ts';
import type { TrustKeeper } from './tuf/keeper.ts';
import { AuditLog } from './audit/log.ts';
import { KeptState } from './state/kept.ts';
import { SigwardMetrics } from './metrics/metrics.ts';

export interface AppDeps {
  readonly logger?: Logger;
  /** Inject one undici dispatcher (tests, fault injection); default: one Agent for all upstreams. */
  readonly dispatcher?: Dispatcher;
  /** Called for every upstream request (tests and the benchmark count round trips). */
  readonly onUpstreamRequest?: (info: { method: string; url: string; status: number }) => void;
  readonly now?: () => number;
  /** Free bytes on the sget store's file system (tests simulate a full disk); default statfs. */
  readonly sgetFreeBytes?: (dir: string) => Promise<number>;
  /** The TUF-kept trust roots, already loaded (TrustKeeper.open): the gate starts with its policy, and each
   * refreshed root swaps the gate's policy. Absent: the loaded policy, never changed. */
  readonly trust?: TrustKeeper;
  /** The daemon's reload state, reported by /readyz (cli/serve.ts); absent: not reported. */
  readonly reloadStatus?: () => ReloadStatus;
  /** The process's metrics (cli/serve.ts makes one), used when the config turns metrics on (`metrics.listen` not
   * off); absent then: createShared makes one. */
  readonly metrics?: SigwardMetrics;
  /** Keep verdicts and verified manifests across restarts in `<cache.dir>/state` (the daemon: cli/serve.ts). Absent:
   * memory only, nothing there is read or written (`sigward verify` and `triangulate` decide afresh and never touch
   * the daemon's files). */
  readonly keepState?: boolean;
  /** Read every signature of a digest before deciding (`sigward verify`: its report lists them all). Absent: a policy
   * met by the `.sig` signatures alone is decided without waiting for the bundle lookup (the daemon). */
  readonly readAllSignatures?: boolean;
}

export interface SigwardApp {
  readonly app: Hono<Env>;
  /** The callback to serve (HEAD handled correctly): `createAdaptorServer({ fetch })`. */
  readonly fetch: FetchHandler;
  /** The same app as a node request listener, `createServer(app.listener())`: pulls (GET and HEAD under /v2/) are
   * answered without going through hono's web Request and Response, everything else through `fetch`. `hostname`:
   * the name for requests without a Host header (as createAdaptorServer's). One listener per hostname. */
  listener(hostname?: string): NodeListener;
  readonly logger: Logger;
  readonly manifests: ManifestService;
  readonly clients: ClientProvider;
  readonly gate: SignatureGate;
  /** The gate's verdict cache (tests and the benchmark read its size). */
  readonly verdicts: VerdictCache;
  /** The /sget endpoint (its store and download counter). */
  readonly sget: SgetService;
  /** The TUF-kept trust roots (deps.trust): refreshNow() refreshes them at once. */
  readonly trust: TrustKeeper | undefined;
  /** What /readyz reports (tests wait on its idle()). */
  readonly readiness: Readiness;
  /** The metrics this app counts into; undefined when the config has them off. */
  readonly metrics: SigwardMetrics | undefined;
  /** This app's generation number (what /readyz reports). */
  generation(): number;
  /** Close what this app built (with the shared parts it made itself, when none were given to it). */
  close(): Promise<void>;
}

/** What outlives a configuration reload: one of each per daemon, shared by every app generation (cli/serve.ts
 * builds a generation per loaded config). Built from the configuration the daemon started with, so their settings
 * (cache.*, blobs.*, sget.storeBytes, limits.signatureMemory, audit) change only with a restart; the verdict cache keys every verdict by
 * policy hash, so an unchanged policy keeps its verdicts across reloads and a changed one never sees the old ones. */
export interface SharedParts {
  readonly logger: Logger;
  readonly manifests: ManifestService;
  readonly verdicts: VerdictCache;
  readonly hashing: HashThread;
  readonly store: BlobStore;
  readonly referenced: ReferencedBlobs | undefined;
  readonly audit: AuditLog | undefined;
  /** Verdicts, covered children and verified manifests kept across restarts (`<cache.dir>/state`; fail-static). */
  readonly kept: KeptState;
  /** Upstream clients and connection pools: an upstream a reload leaves unchanged keeps its client (connections,
   * bearer tokens) in the new generation; dispatchers close when the last generation using them does. */
  readonly upstreams: UpstreamPool;
  /** Signature bytes held at once across every generation's lookups (limits.signatureMemory at start). */
  readonly signatureMemory: ByteBudget;
  /** Repositories whose images were decided on their `.sig` signatures alone (the gate's lookup order). */
  readonly legacyRepos: ReturnType<typeof legacyRepoMemory>;
  /** Digests the `blobs: cache` copy is being written for now: one copy per digest across generations. */
  readonly blobFilling: Set<Digest>;
  /** The metrics (config `metrics.listen` other than off at start), shared by every generation, and whether
   * /metrics is served on the proxy's listener (`metrics.listen: main` at start). */
  readonly metrics: SigwardMetrics | undefined;
  readonly metricsOnMain: boolean;
  /** cache.dir as the daemon started with it (the store, the referenced-blobs list and readiness's probe live under
   * it). */
  readonly cacheDir: string;
  /** The next generation number: 1 for the first app, +1 for each reload applied and each TUF-refreshed policy. */
  nextGeneration(): number;
  /** Flush and close them (after every generation is closed). */
  close(): Promise<void>;
}

export function createShared(loaded: LoadedConfig, deps: AppDeps = {}): SharedParts {
  const { config } = loaded;
  const logger = deps.logger ?? createLogger(config.logLevel);
  const metrics = (config.metrics?.listen ?? 'off') === 'off' ? undefined : (deps.metrics ?? new SigwardMetrics());
  metrics?.collectProcessMetrics();
  const manifests = new ManifestService({
    memoryBytes: config.cache.manifestMemoryBytes,
    ...(metrics && { observer: metrics.cache('manifests') }),
  });
  const verdicts = new VerdictCache({
    allowTtlMs: config.cache.allowTtlMs,
    denyTtlMs: config.cache.denyTtlMs,
    maxEntries: config.cache.verdictEntries,
    maxBytes: config.cache.verdictMemoryBytes,
    ...(deps.now ? { now: deps.now } : {}),
    ...(metrics && { observer: metrics.cache('verdicts') }),
  });
  // Kept across restarts under <cache.dir>/state, sealed with the sget store's key; attached to the verdict cache and
  // the manifest service. An unusable directory leaves memory only (logged once), never stops the daemon.
  const kept = new KeptState({
    dir: join(config.cache.dir, 'state'),
    persist: deps.keepState === true,
    keyFile: join(config.cache.dir, 'sget', 'seal.key'),
    maxBytes: config.cache.stateBytes,
    maxEntries: config.cache.verdictEntries,
    verdictBytes: config.cache.verdictMemoryBytes,
    verdicts,
    policyHash: () => (deps.trust?.policy ?? loaded.policy).hash,
    log: logger,
    ...(deps.now ? { now: deps.now } : {}),
  });
  manifests.useKept(kept);
  // Opened before anything is served: a torn last line (a crash) is cut here, a foreign one stops the start.
  const audit = config.audit
    ? AuditLog.open({ ...config.audit, log: logger, ...(deps.now ? { now: deps.now } : {}) })
    : undefined;
  const hashing = new HashThread();
  // Kept next to the sget store: an unusable cache.dir degrades to memory only (logged), never stops the daemon.
  const referenced =
    config.blobs.serve === 'referenced'
      ? new ReferencedBlobs({
          entries: config.blobs.entries,
          file: join(config.cache.dir, 'referenced-blobs.txt'),
          log: logger,
        })
      : undefined;
  // The store is opened on the first sget request, so an unusable cache.dir never stops the daemon (sget then 503s).
  const store = new BlobStore({
    dir: join(config.cache.dir, 'sget'),
    capacity: config.sget.storeBytes,
    log: logger,
    ...(deps.sgetFreeBytes ? { freeBytes: deps.sgetFreeBytes } : {}),
  });
  metrics?.sgetStore(() => ({ ...store.usage, capacity: config.sget.storeBytes }));
  let generations = 0;
  return {
    logger,
    manifests,
    verdicts,
    hashing,
    store,
    referenced,
    audit,
    kept,
    upstreams: new UpstreamPool(),
    signatureMemory: new ByteBudget(config.limits.signatureMemory),
    legacyRepos: legacyRepoMemory(),
    blobFilling: new Set(),
    metrics,
    metricsOnMain: config.metrics?.listen === 'main',
    cacheDir: config.cache.dir,
    nextGeneration: () => ++generations,
    close: async () => {
      await hashing.close();
      await store.flush(); // seals of fresh downloads are on disk before the process goes
      await referenced?.flush();
      await kept.flush();
      audit?.close();
    },
  };
}

/** One app generation: its configuration's upstream clients, router, gate and services, around `shared` (or parts
 * of its own, closed with it, when none is given: tests and the benchmark). */
export function createApp(loaded: LoadedConfig, deps: AppDeps = {}, shared?: SharedParts): SigwardApp {
  const { config } = loaded;
  const parts = shared ?? createShared(loaded, deps);
  const logger = deps.logger ?? parts.logger;
  const { manifests, verdicts, audit, hashing, referenced, store } = parts;
  const upstreams = new Upstreams(config.upstreams, {
    limits: config.limits,
    passwords: loaded.passwords,
    caPems: loaded.caPems,
    ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}),
    ...(deps.onUpstreamRequest ? { onRequest: deps.onUpstreamRequest } : {}),
    ...(deps.now ? { now: deps.now } : {}),
    ...(parts.metrics && { metrics: parts.metrics }),
    pool: parts.upstreams,
  });
  const router = new Router(config.upstreams);
  const gate = new SignatureGate({
    policy: deps.trust?.policy ?? loaded.policy,
    clients: upstreams,
    verdicts,
    log: logger,
    limits: discoveryLimits(config.limits),
    attachmentLimits: attachmentLimits(config.limits),
    memory: parts.signatureMemory,
    legacyRepos: parts.legacyRepos,
    ...(deps.now ? { now: deps.now } : {}),
    ...(audit ? { audit } : {}),
    ...(parts.metrics && { metrics: parts.metrics }),
    ...(deps.readAllSignatures === true && { readAllSignatures: true }),
  });
  const proxy = new ProxyService({
    clients: upstreams,
    manifests,
    log: logger,
    gate,
    kept: parts.kept,
    ...(parts.metrics && { failStaticServed: (upstream: string) => parts.metrics?.failStaticServed(upstream) }),
    ...(referenced === undefined ? {} : { referenced }),
    // Upstreams with `blobs: cache` keep their blobs in sget's store (one bound: sget.storeSize).
    blobCache: new StoreBlobCache({
      store,
      maxBytes: config.sget.maxArtifactBytes,
      log: logger,
      filling: parts.blobFilling,
      ...(parts.metrics && { observer: parts.metrics.cache('blobs') }),
    }),
  });
  const sget = new SgetService({
    clients: upstreams,
    manifests,
    gate,
    store,
    hashing,
    maxArtifactBytes: config.sget.maxArtifactBytes,
    log: logger,
  });
  // The generation /readyz reports: 1 at start, +1 for each reload applied and each time a refreshed TUF root changed
  // the policy (one count across generations: parts.nextGeneration()).
  let generation = parts.nextGeneration();
  const readiness = new Readiness({
    config: () => ({ file: loaded.file, policyHash: gate.policyHash, generation }),
    storeDir: join(parts.cacheDir, 'sget'),
    upstreams: upstreams.all(),
    ...(deps.reloadStatus ? { reload: deps.reloadStatus } : {}),
    ...(deps.now ? { now: deps.now } : {}),
  });
  const routeDeps = {
    router,
    proxy,
    log: logger,
    sget,
    readiness,
    ...(parts.metrics && { metrics: parts.metrics, metricsRoute: parts.metricsOnMain }),
  };
  const app = buildRoutes(routeDeps);
  const fetch = sigwardFetch(app);
  const listeners = new Map<string | undefined, NodeListener>();
  deps.trust?.start((policy) => {
    if (policy.hash !== gate.policyHash) {
      generation = parts.nextGeneration();
      parts.metrics?.policyRefreshed(generation);
    }
    gate.usePolicy(policy);
  });
  return {
    app,
    fetch,
    listener: (hostname) => {
      let l = listeners.get(hostname);
      if (l === undefined) listeners.set(hostname, (l = nodeListener(routeDeps, fetch, hostname)));
      return l;
    },
    logger,
    manifests,
    clients: upstreams,
    gate,
    verdicts,
    sget,
    trust: deps.trust,
    readiness,
    metrics: parts.metrics,
    generation: () => generation,
    close: async () => {
      deps.trust?.close();
      await upstreams.close();
      if (shared === undefined) await parts.close();
    },
  };
}
