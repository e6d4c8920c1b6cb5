// createApp wires configuration, upstream clients, caches and HTTP routes together. It never listens: the caller
// (cli/serve.ts, tests, the benchmark) decides where to serve it.
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import type { Hono } from 'hono';
import type { LoadedConfig } from './config/load.ts';
import { createLogger, type Logger } from './log.ts';
import { Router } from './http/routing.ts';
import { buildRoutes, sigwardFetch, type Env, type FetchHandler } from './http/routes.ts';
import { ManifestService } from './proxy/manifests.ts';
import { ProxyService } from './proxy/service.ts';
import type { ClientProvider } from './proxy/types.ts';
import { Upstreams } from './upstream/registry.ts';
import { attachmentLimits, SignatureGate } from './proxy/gate.ts';
import { HashThread } from './proxy/hash-thread.ts';
import { VerdictCache } from './proxy/verdicts.ts';
import { ReferencedBlobs } from './proxy/referenced-blobs.ts';
import { discoveryLimits } from './proxy/signatures.ts';
import { SgetService } from './sget/service.ts';
import { StoreBlobCache } from './sget/blob-cache.ts';
import { BlobStore } from './sget/store.ts';
import { Readiness } from './http/readiness.ts';
import type { TrustKeeper } from './tuf/keeper.ts';
import { AuditLog } from './audit/log.ts';
import { KeptState } from './state/kept.ts';

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
}

export interface SigwardApp {
  readonly app: Hono<Env>;
  /** The callback to serve (HEAD handled correctly): `createAdaptorServer({ fetch })`. */
  readonly fetch: FetchHandler;
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
  close(): Promise<void>;
}

export function createApp(loaded: LoadedConfig, deps: AppDeps = {}): SigwardApp {
  const { config } = loaded;
  const logger = deps.logger ?? createLogger(config.logLevel);
  const upstreams = new Upstreams(config.upstreams, {
    limits: config.limits,
    passwords: loaded.passwords,
    caPems: loaded.caPems,
    ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}),
    ...(deps.onUpstreamRequest ? { onRequest: deps.onUpstreamRequest } : {}),
    ...(deps.now ? { now: deps.now } : {}),
  });
  const router = new Router(config.upstreams);
  const manifests = new ManifestService({ memoryBytes: config.cache.manifestMemoryBytes });
  const verdicts = new VerdictCache({
    allowTtlMs: config.cache.allowTtlMs,
    denyTtlMs: config.cache.denyTtlMs,
    maxEntries: config.cache.verdictEntries,
    maxBytes: config.cache.verdictMemoryBytes,
    ...(deps.now ? { now: deps.now } : {}),
  });
  // Kept across restarts under <cache.dir>/state, sealed with the sget store's key; attached to the verdict cache and
  // the manifest service. An unusable directory leaves memory only (logged once), never stops the daemon.
  const kept = new KeptState({
    dir: join(config.cache.dir, 'state'),
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
  const gate = new SignatureGate({
    policy: deps.trust?.policy ?? loaded.policy,
    clients: upstreams,
    verdicts,
    log: logger,
    limits: discoveryLimits(config.limits),
    attachmentLimits: attachmentLimits(config.limits),
    signatureMemory: config.limits.signatureMemory,
    ...(deps.now ? { now: deps.now } : {}),
    ...(audit ? { audit } : {}),
  });
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
  const proxy = new ProxyService({
    clients: upstreams,
    manifests,
    hashing,
    log: logger,
    gate,
    kept,
    ...(referenced === undefined ? {} : { referenced }),
    // Upstreams with `blobs: cache` keep their blobs in sget's store (one bound: sget.storeSize).
    blobCache: new StoreBlobCache({ store, maxBytes: config.sget.maxArtifactBytes, log: logger }),
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
  // The policy generation /readyz reports: 1 at start, +1 each time a refreshed TUF root changed the policy.
  let generation = 1;
  const readiness = new Readiness({
    config: () => ({ file: loaded.file, policyHash: gate.policyHash, generation }),
    storeDir: join(config.cache.dir, 'sget'),
    upstreams: upstreams.all(),
    ...(deps.now ? { now: deps.now } : {}),
  });
  const app = buildRoutes({ router, proxy, log: logger, sget, readiness });
  deps.trust?.start((policy) => {
    if (policy.hash !== gate.policyHash) generation++;
    gate.usePolicy(policy);
  });
  return {
    app,
    fetch: sigwardFetch(app),
    logger,
    manifests,
    clients: upstreams,
    gate,
    verdicts,
    sget,
    trust: deps.trust,
    readiness,
    close: async () => {
      deps.trust?.close();
      await upstreams.close();
      await hashing.close();
      await store.flush(); // seals of fresh downloads are on disk before the process goes
      await referenced?.flush();
      await kept.flush();
      audit?.close();
    },
  };
}
