// A fault-injecting stand-in for an upstream registry: node:http on 127.0.0.1:0 whose answers are scripted per
// request path, with a count of every attempt (a retry is visible as a second hit on the same path). Scripts may
// misbehave in every way a real registry or network can: wrong bytes, lying headers, truncated bodies, reset
// connections, headers that never come. stop() destroys every socket, so a hung answer never holds up a test.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { listenOnLoopback } from './proc.ts';

/** Answers one request; `attempt` is 1 for the first request on this path, 2 for the next, and so on. */
export type FakeHandler = (req: IncomingMessage, res: ServerResponse, attempt: number) => void;

export interface FakeUpstream {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** Script the answers for one exact path (e.g. `/v2/fault/a/manifests/v1`), replacing any earlier script. */
  route(path: string, handler: FakeHandler): void;
  /** Requests seen for a path (every method), including ones whose connection was cut. */
  hits(path: string): number;
  /** Every request seen, in order: `METHOD path`. */
  readonly log: readonly string[];
  stop(): Promise<void>;
}

export const sha256 = (data: Uint8Array): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** The OCI error body registries send (distribution-spec, "Error Codes"). */
export function ociError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  const body = Buffer.from(JSON.stringify({ errors: [{ code, message }] }));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(body.length), ...headers });
  res.end(body);
}

/** A well-behaved manifest answer: exact bytes, honest digest and length. */
export function serveManifest(res: ServerResponse, bytes: Uint8Array, mediaType: string, method = 'GET'): void {
  res.writeHead(200, {
    'Content-Type': mediaType,
    'Content-Length': String(bytes.length),
    'Docker-Content-Digest': sha256(bytes),
  });
  res.end(method === 'HEAD' ? undefined : bytes);
}

/** A blob served slowly: 64 KiB every `everyMs` (default 20 ms), so a client's hang-up comes long before the end. */
export function serveBlobSlowly(res: ServerResponse, bytes: Uint8Array, everyMs = 20): void {
  res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length), 'Docker-Content-Digest': sha256(bytes) });
  let sent = 0;
  const timer = setInterval(() => {
    if (res.destroyed || sent >= bytes.length) {
      clearInterval(timer);
      if (!res.destroyed) res.end();
      return;
    }
    res.write(bytes.subarray(sent, (sent += 64 * 1024)));
  }, everyMs);
}

/** A blob body written in `chunk`-sized pieces (each its own write), with the given Content-Length. */
export function serveBlob(res: ServerResponse, bytes: Uint8Array, opts: { digest?: string; chunk?: number; contentLength?: number } = {}): void {
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Content-Length': String(opts.contentLength ?? bytes.length),
    'Docker-Content-Digest': opts.digest ?? sha256(bytes),
  });
  const chunk = opts.chunk ?? 64 * 1024;
  let at = 0;
  const pump = (): void => {
    while (at < bytes.length) {
      const part = bytes.subarray(at, at + chunk);
      at += part.length;
      if (!res.write(part)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

export async function startFakeUpstream(): Promise<FakeUpstream> {
  const routes = new Map<string, FakeHandler>();
  const counts = new Map<string, number>();
  const log: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://fake.invalid').pathname;
    const attempt = (counts.get(path) ?? 0) + 1;
    counts.set(path, attempt);
    log.push(`${req.method ?? '?'} ${path}`);
    const handler = routes.get(path);
    if (handler === undefined) {
      ociError(res, 404, path.includes('/blobs/') ? 'BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN', `fake upstream has nothing at ${path}`);
      return;
    }
    handler(req, res, attempt);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const { port } = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    route: (path, handler) => void routes.set(path, handler),
    hits: (path) => counts.get(path) ?? 0,
    log,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
