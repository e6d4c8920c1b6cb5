// A counting, optionally delaying HTTP forwarder between sigward and the upstream registry. sigward has a second
// upstream whose url points here, so every request it makes for an image under that host passes through: the
// forwarder counts them by kind (what a cold signed pull costs upstream) and can hold each one for a fixed delay
// before forwarding it, which turns the number of SEQUENTIAL round trips into time (added latency / delay).
// Only 127.0.0.1: the listener takes an OS-chosen port, and the one place it forwards to is the bench upstream.
import http from 'node:http';
import { listenOnLoopback } from '../test/helpers/proc.ts';

/** What one upstream request was for, from its path (distribution-spec "Pull"). */
export type RequestKind =
  | 'manifest-tag'
  | 'manifest-digest'
  | 'sig-manifest' // legacy `sha256-<hex>.sig` signature image
  | 'referrers-api' // GET /v2/<name>/referrers/<digest>
  | 'referrers-tag' // the `sha256-<hex>` referrers tag schema index
  | 'blob'
  | 'other';

export interface Logged {
  readonly kind: RequestKind;
  readonly method: string;
  readonly path: string;
  /** ms since the window began (see begin()), when the request arrived. */
  readonly atMs: number;
  status?: number;
  /** ms since the window began, when the answer was fully handed to the kernel. */
  doneMs?: number;
}

export interface Forwarder {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** 127.0.0.1:PORT: the name sigward's second upstream goes by. */
  readonly host: string;
  /** Delay added to every request before it is forwarded, ms (0: none). */
  delayMs: number;
  /** Start a new counting window: forget every request logged so far. */
  begin(): void;
  /** Requests of the current window, in arrival order. */
  requests(): readonly Logged[];
  /** Requests of the current window per kind. */
  counts(): Record<RequestKind, number>;
  /** Requests received but not answered yet. */
  inFlight(): number;
  stop(): Promise<void>;
}

const SIG_TAG = /^sha256-[0-9a-f]{64}\.sig$/;
const REFERRERS_TAG = /^sha256-[0-9a-f]{64}$/;

export function classify(path: string): RequestKind {
  const p = path.split('?')[0] ?? '';
  const m = /^\/v2\/.+\/(manifests|blobs|referrers)\/([^/]+)$/.exec(p);
  if (!m) return 'other';
  if (m[1] === 'blobs') return 'blob';
  if (m[1] === 'referrers') return 'referrers-api';
  const ref = decodeURIComponent(m[2] ?? '');
  if (SIG_TAG.test(ref)) return 'sig-manifest';
  if (REFERRERS_TAG.test(ref)) return 'referrers-tag';
  return ref.startsWith('sha256:') ? 'manifest-digest' : 'manifest-tag';
}

/**
 * How long at least one upstream request was in flight (the union of the [arrival, answered] intervals), ms: the rest
 * of a client's wait is time the proxy spent on its own (plus the hops to it and through the forwarder).
 */
export function busyMs(log: readonly Logged[]): number {
  const spans = log
    .filter((e) => e.doneMs !== undefined)
    .map((e) => [e.atMs, e.doneMs!] as const)
    .sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of spans) {
    if (b <= end) continue;
    total += b - Math.max(a, end);
    end = b;
  }
  return total;
}

export function emptyCounts(): Record<RequestKind, number> {
  return {
    'manifest-tag': 0,
    'manifest-digest': 0,
    'sig-manifest': 0,
    'referrers-api': 0,
    'referrers-tag': 0,
    blob: 0,
    other: 0,
  };
}

/** Start a forwarder to `upstreamUrl` (an http://127.0.0.1:PORT registry). */
export async function startForwarder(upstreamUrl: string): Promise<Forwarder> {
  const up = new URL(upstreamUrl);
  if (up.hostname !== '127.0.0.1' || up.protocol !== 'http:')
    throw new Error(`forwarder: upstream ${upstreamUrl} is not http://127.0.0.1:PORT`);
  // Keep-alive both ways, so the forwarder adds no connection setup of its own to a round trip.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  let log: Logged[] = [];
  let windowStart = process.hrtime.bigint();
  let pending = 0;
  let delayMs = 0;

  const forward = (req: http.IncomingMessage, res: http.ServerResponse, entry: Logged): void => {
    const out = http.request(
      {
        host: up.hostname,
        port: Number(up.port),
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: up.host },
        agent,
      },
      (ur) => {
        entry.status = ur.statusCode;
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      },
    );
    out.on('error', (err) => res.destroy(err));
    req.pipe(out);
  };

  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    const entry: Logged = {
      kind: classify(path),
      method: req.method ?? 'GET',
      path,
      atMs: Number(process.hrtime.bigint() - windowStart) / 1e6,
    };
    log.push(entry);
    pending++;
    const started = windowStart;
    res.on('finish', () => {
      entry.doneMs = Number(process.hrtime.bigint() - started) / 1e6;
    });
    res.on('close', () => pending--);
    if (delayMs > 0) setTimeout(() => forward(req, res, entry), delayMs);
    else forward(req, res, entry);
  });
  const { host } = await listenOnLoopback(server);

  return {
    url: `http://${host}`,
    host,
    get delayMs() {
      return delayMs;
    },
    set delayMs(v: number) {
      delayMs = v;
    },
    begin() {
      log = [];
      windowStart = process.hrtime.bigint();
    },
    requests: () => log,
    counts() {
      const c = emptyCounts();
      for (const e of log) c[e.kind]++;
      return c;
    },
    inFlight: () => pending,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
