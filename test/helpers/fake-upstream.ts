// Fault-injecting stand-ins for an upstream registry, node:http on 127.0.0.1 with an OS-chosen port, in two shapes:
// - startFake(handler): one handler for every request, a log of every request (method, path, headers) and a count
//   of TCP connections, so the upstream/ unit tests can count round trips (optionally over TLS);
// - startFakeUpstream(): answers scripted per request path, with a count of every attempt (a retry is visible as a
//   second hit on the same path), for the tests that run the whole app.
// Scripts may misbehave in every way a real registry or network can: wrong bytes, lying headers, truncated bodies,
// reset connections, headers that never come. Closing destroys every socket, so a hung answer never holds up a test.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Socket } from 'node:net';
import { listenOnLoopback } from './proc.ts';

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
}

/** Answers every request of a startFake; `n` counts requests from 0. */
export type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void | Promise<void>;

export interface Fake {
  readonly url: string;
  readonly host: string;
  readonly requests: SeenRequest[];
  /** TCP connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/** A fake whose one handler answers everything; a handler that throws or rejects destroys its answer. */
export async function startFake(handler: Handler, tls?: { cert: string; key: string }): Promise<Fake> {
  const sockets = new Set<Socket>();
  const requests: SeenRequest[] = [];
  let n = 0;
  let connections = 0;
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const fail = (e: unknown): void => void res.destroy(e instanceof Error ? e : new Error(String(e)));
    try {
      Promise.resolve(handler(req, res, n++)).catch(fail);
    } catch (e) {
      fail(e);
    }
  };
  const server: Server = tls ? createTlsServer({ cert: tls.cert, key: tls.key }, onRequest) : createServer(onRequest);
  server.on(tls ? 'secureConnection' : 'connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const { host } = await listenOnLoopback(server);
  return {
    url: `${tls ? 'https' : 'http'}://${host}`,
    host,
    requests,
    get connections() {
      return connections;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

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

/** The OCI manifest of a one-file artifact (what `cosign upload blob` or oras push): an empty config and one titled
 * layer holding `data`. `size` is the declared layer size (default: the real one), for lying manifests. */
export function oneFileManifest(
  data: Uint8Array,
  opts: { mediaType?: string; title?: string; size?: number } = {},
): Buffer {
  const config = Buffer.from('{}');
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(config), size: config.length },
      layers: [
        {
          mediaType: opts.mediaType ?? 'application/octet-stream',
          digest: sha256(data),
          size: opts.size ?? data.length,
          annotations: { 'org.opencontainers.image.title': opts.title ?? 'file.bin' },
        },
      ],
    }),
  );
}

/** A JSON answer with an exact Content-Length. */
export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(bytes.length), ...headers });
  res.end(bytes);
}

/** The OCI error body registries send (distribution-spec, "Error Codes"). */
export function ociError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  json(res, status, { errors: [{ code, message, detail: null }] }, headers);
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
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Content-Length': String(bytes.length),
    'Docker-Content-Digest': sha256(bytes),
  });
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
export function serveBlob(
  res: ServerResponse,
  bytes: Uint8Array,
  opts: { digest?: string; chunk?: number; contentLength?: number } = {},
): void {
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
  const fake = await startFake((req, res) => {
    const path = new URL(req.url ?? '/', 'http://fake.invalid').pathname;
    const attempt = (counts.get(path) ?? 0) + 1;
    counts.set(path, attempt);
    log.push(`${req.method ?? '?'} ${path}`);
    const handler = routes.get(path);
    if (handler === undefined) {
      ociError(
        res,
        404,
        path.includes('/blobs/') ? 'BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN',
        `fake upstream has nothing at ${path}`,
      );
      return;
    }
    handler(req, res, attempt);
  });
  return {
    url: fake.url,
    route: (path, handler) => void routes.set(path, handler),
    hits: (path) => counts.get(path) ?? 0,
    log,
    stop: () => fake.close(),
  };
}
