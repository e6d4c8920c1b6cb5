// The typed configuration, after parsing and validation. Defaults live here, next to the types they fill.

export interface SecretRef {
  /** Read the value from this file (trailing newline stripped). */
  readonly file?: string;
  /** Read the value from this environment variable. */
  readonly env?: string;
}

export type UpstreamAuth =
  { readonly kind: 'anonymous' } | { readonly kind: 'basic'; readonly username: string; readonly password: SecretRef };

export interface UpstreamTimeouts {
  /** TCP + TLS connect. */
  readonly connectMs: number;
  /** From request sent to response headers received. */
  readonly headersMs: number;
  /** Longest silence between two body chunks. */
  readonly bodyMs: number;
}

export interface UpstreamConfig {
  /** Registry host name as it appears in image references (`docker.io`, `ghcr.io`, `127.0.0.1:5001`). */
  readonly host: string;
  /** Other names of the same registry (`index.docker.io`, `registry-1.docker.io`). */
  readonly aliases: readonly string[];
  /** Base URL requests go to, scheme included (`https://registry-1.docker.io`). No path. */
  readonly url: string;
  /** Bare `/v2/<repo>/…` requests (docker `registry-mirrors`) go to the default upstream. At most one. */
  readonly default: boolean;
  /** Single-segment names get `library/` (Docker Hub's official images). Defaults to true for docker.io. */
  readonly libraryPrefix: boolean;
  readonly auth: UpstreamAuth;
  /** PEM file of CA certificates trusted for this upstream's TLS (in addition to none: it replaces the system
   * store for this upstream). */
  readonly caFile?: string;
  readonly timeouts: UpstreamTimeouts;
  /** Retries of idempotent requests on connection errors (not on HTTP errors). */
  readonly retries: number;
  /** Hosts (`host` or `host:port`, as in a URL) of token services that may receive this upstream's credentials,
   * besides its own url's host and KNOWN_TOKEN_REALMS. Absent: none. */
  readonly tokenRealms?: readonly string[];
  /** Let this upstream's redirects and token realms lead to loopback, private and link-local addresses (its own
   * url and its tokenRealms are always reachable: the operator named them). Absent: false. */
  readonly allowPrivateNetworks?: boolean;
  /** How this upstream's /v2/ blobs reach clients (proxy/blobs.ts): `relay` (streamed and hashed on the way),
   * `redirect` (the upstream's redirect to its storage is handed to the client), `cache` (relayed, kept in the
   * shared store bounded by sget.storeSize, then served from disk). Absent: relay. */
  readonly blobs?: UpstreamBlobs;
  /** Fail-static window: while this upstream is unreachable, times out or answers 5xx, a manifest sigward served
   * verified within this many milliseconds (under the same policy hash) is served from the kept bytes, with a
   * Warning. Absent: off (fail closed). At most MAX_FAIL_STATIC_MS. */
  readonly failStaticMs?: number;
}

/** The longest fail-static window an upstream may configure (7 days). */
export const MAX_FAIL_STATIC_MS = 7 * 24 * 3_600_000;

export type UpstreamBlobs = 'relay' | 'redirect' | 'cache';

/** What one signature lookup may read (proxy/signatures.ts): a hostile `.sig` image or referrers list must not turn
 * one pull into thousands of upstream requests or megabytes held per listed layer. */
export interface SignatureLimits {
  /** Largest signature layer, bundle blob or referrer manifest read. */
  readonly signatureBytes: number;
  /** Most layers in one `.sig` image; one with more is refused whole (cosign's own limit is 1000). */
  readonly signatureLayers: number;
  /** Most referrers inspected for one digest. */
  readonly signatureReferrers: number;
  /** Most distinct signatures read and verified per lookup; the rest are reported unread. */
  readonly signaturesPerLookup: number;
  /** Most bytes of signatures (and referrer manifests) read per lookup. */
  readonly signatureBytesPerLookup: number;
  /** Most upstream requests in flight for one lookup. */
  readonly signatureFetches: number;
  /** Proving a signature artifact inert (proxy/gate.ts): most layers read, largest layer, and all layers together.
   * An artifact past these is not proven and is decided by the policy like an image. */
  readonly attachmentLayers: number;
  readonly attachmentLayerBytes: number;
  readonly attachmentBytes: number;
  /** Signature and artifact bytes held at once across ALL lookups and proofs: a lookup takes its whole
   * signatureBytesPerLookup share (a proof, its layers' declared sizes) before fetching, and waits when it is spent. */
  readonly signatureMemory: number;
}

export interface Limits extends SignatureLimits {
  /** Largest manifest accepted from an upstream (distribution's own default cap is 4 MiB). */
  readonly manifestBytes: number;
  /** Largest error body read from an upstream (the rest is discarded). */
  readonly errorBodyBytes: number;
  /** Largest tags/list or referrers answer passed through. */
  readonly listBytes: number;
  /** Longest time one upstream body (blob, manifest, signature) may take from its headers on (upstream/body-watch.ts). */
  readonly bodyDeadlineMs: number;
  /** Fewest bytes per second an upstream body must bring in each rate window; 0 turns the check off. */
  readonly minBodyRate: number;
  /** The window over which minBodyRate is judged. */
  readonly bodyRateWindowMs: number;
}

export interface CacheConfig {
  /** State and cache directory (sget store lives under it). */
  readonly dir: string;
  /** Memory budget for manifests held by digest. */
  readonly manifestMemoryBytes: number;
  /** How long an "allowed" verdict is reused for a digest before its signatures are looked up again. */
  readonly allowTtlMs: number;
  /** How long a denial is reused: short, because images are often signed just after they are pushed. */
  readonly denyTtlMs: number;
  /** Most verdicts kept in memory. */
  readonly verdictEntries: number;
  /** Memory budget for verdicts, as the size of each stored decision (its messages included). */
  readonly verdictMemoryBytes: number;
  /** Disk budget of the state kept across restarts under `<dir>/state` (verified manifests' bytes, verdicts). */
  readonly stateBytes: number;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
}

/** The verified-download endpoint (/sget/…). Its store lives in `<cache.dir>/sget`. */
export interface SgetConfig {
  /** Disk budget of the store of verified artifacts; the least recently used are evicted beyond it. */
  readonly storeBytes: number;
  /** Largest artifact sget downloads; a larger one is refused before any byte of it is fetched. */
  readonly maxArtifactBytes: number;
}

/** Which /v2/ blobs are served: `all` (by digest, no policy), or only those listed by a manifest sigward allowed
 * in the same repository (`referenced`; remembered for up to `entries` blobs, across restarts). */
export interface BlobsConfig {
  readonly serve: 'all' | 'referenced';
  readonly entries: number;
}

/** The `audit` section: every verification decision appended as one hash-chained JSON line (src/audit/log.ts). */
export interface AuditConfig {
  /** Absolute once loaded (load.ts resolves it against the config's directory). */
  readonly file: string;
  /** The file is rotated (file -> file.1 …) before a line would take it past this. */
  readonly maxBytes: number;
  /** Rotated files kept. */
  readonly keep: number;
}

/** The `metrics` section: where /metrics (Prometheus text format) is served. `off`: nowhere (the default);
 * `main`: on the proxy's own listener; an address: on a listener of its own. */
export interface MetricsConfig {
  readonly listen: 'off' | 'main' | ServerConfig;
}

export interface Config {
  readonly blobs: BlobsConfig;
  readonly listen: ServerConfig;
  readonly logLevel: LogLevel;
  readonly upstreams: readonly UpstreamConfig[];
  readonly limits: Limits;
  readonly cache: CacheConfig;
  readonly sget: SgetConfig;
  /** The tamper-evident decision log; absent: none. */
  readonly audit?: AuditConfig;
  /** Prometheus metrics; absent: off. */
  readonly metrics?: MetricsConfig;
}

export const DEFAULT_TIMEOUTS: UpstreamTimeouts = { connectMs: 10_000, headersMs: 30_000, bodyMs: 60_000 };
export const DEFAULT_RETRIES = 2;
// Real cosign images carry one layer per signature and rarely more than a few; cosign itself refuses an image with
// more than 100 signatures and a `.sig` image with more than 1000 layers. A legacy payload is well under 1 KiB and a
// bundle a few KiB, so 4 MiB per lookup is 4 blobs of the largest allowed size or hundreds of real ones.
export const DEFAULT_SIGNATURE_LIMITS: SignatureLimits = {
  signatureBytes: 1024 * 1024,
  signatureLayers: 1000,
  signatureReferrers: 128,
  signaturesPerLookup: 100,
  signatureBytesPerLookup: 4 * 1024 * 1024,
  signatureFetches: 4,
  // cosign appends one layer per signature to a `.sig` image; an SBOM attachment is one document, often a few MiB.
  attachmentLayers: 64,
  attachmentLayerBytes: 4 * 1024 * 1024,
  attachmentBytes: 16 * 1024 * 1024,
  // 16 lookups at the default signatureBytesPerLookup at once; real lookups finish in milliseconds.
  signatureMemory: 64 * 1024 * 1024,
};
export const DEFAULT_LIMITS: Limits = {
  ...DEFAULT_SIGNATURE_LIMITS,
  manifestBytes: 4 * 1024 * 1024,
  errorBodyBytes: 64 * 1024,
  listBytes: 4 * 1024 * 1024,
  // An hour moves a 2 GiB layer to a client at ~600 KB/s; the rate check is what stops a dripping upstream early.
  bodyDeadlineMs: 60 * 60_000,
  minBodyRate: 4 * 1024,
  bodyRateWindowMs: 30_000,
};
export const DEFAULT_LISTEN: ServerConfig = { host: '127.0.0.1', port: 5050 };
export const DEFAULT_CACHE: CacheConfig = {
  dir: '/var/cache/sigward',
  manifestMemoryBytes: 64 * 1024 * 1024,
  allowTtlMs: 10 * 60_000,
  denyTtlMs: 30_000,
  verdictEntries: 100_000,
  verdictMemoryBytes: 64 * 1024 * 1024,
  stateBytes: 256 * 1024 * 1024,
};

// 200k blobs is the layers and configs of some 20k images; an entry costs ~200 bytes of memory.
export const DEFAULT_BLOBS: BlobsConfig = { serve: 'all', entries: 200_000 };

export const DEFAULT_SGET: SgetConfig = {
  storeBytes: 10 * 1024 ** 3,
  maxArtifactBytes: 2 * 1024 ** 3,
};

/** Token services known to belong to a registry, by the host of its url: its credentials may go there without a
 * tokenRealms entry (Docker Hub's registry hands out tokens from auth.docker.io, GitLab.com's from gitlab.com). */
export const KNOWN_TOKEN_REALMS: ReadonlyMap<string, readonly string[]> = new Map([
  ['registry-1.docker.io', ['auth.docker.io']],
  ['index.docker.io', ['auth.docker.io']],
  ['registry.gitlab.com', ['gitlab.com']],
]);

/** Docker Hub goes by several names; a bare `docker.io` upstream answers to all of them. */
export const DOCKER_HUB_NAMES: readonly string[] = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];
