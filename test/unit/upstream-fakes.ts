// Fault-injecting fake upstreams for the upstream/ unit tests: node:http on 127.0.0.1 with an OS-chosen port, a log
// of every request (method, path, headers) and of every TCP connection, so tests can count round trips.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Socket } from 'node:net';
import { DEFAULT_LIMITS, type Limits, type UpstreamConfig } from '../../src/config/types.ts';
import { listenOnLoopback } from '../helpers/proc.ts';

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
}

export type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void | Promise<void>;

export interface Fake {
  readonly url: string;
  readonly host: string;
  readonly requests: SeenRequest[];
  /** TCP connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

export async function startFake(handler: Handler, tls?: { cert: string; key: string }): Promise<Fake> {
  const sockets = new Set<Socket>();
  let n = 0;
  const fake: { requests: SeenRequest[]; connections: number } = { requests: [], connections: 0 };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    fake.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    Promise.resolve(handler(req, res, n++)).catch((e: unknown) => {
      res.destroy(e instanceof Error ? e : new Error(String(e)));
    });
  };
  const server: Server = tls ? createTlsServer({ cert: tls.cert, key: tls.key }, onRequest) : createServer(onRequest);
  server.on(tls ? 'secureConnection' : 'connection', (s: Socket) => {
    fake.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const { host } = await listenOnLoopback(server);
  return {
    url: `${tls ? 'https' : 'http'}://${host}`,
    host,
    requests: fake.requests,
    get connections() {
      return fake.connections;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function upstreamConfig(url: string, over: Partial<UpstreamConfig> = {}): UpstreamConfig {
  return {
    host: new URL(url).host,
    aliases: [],
    url,
    default: false,
    libraryPrefix: false,
    auth: { kind: 'anonymous' },
    timeouts: { connectMs: 2_000, headersMs: 5_000, bodyMs: 5_000 },
    retries: 2,
    ...over,
  };
}

export const LIMITS: Limits = { ...DEFAULT_LIMITS, manifestBytes: 64 * 1024, errorBodyBytes: 1024, listBytes: 8 * 1024 };

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(bytes.length), ...headers });
  res.end(bytes);
}

export function ociError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  json(res, status, { errors: [{ code, message, detail: null }] }, headers);
}

/** Await a rejection and return the error, failing when the promise resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; retryAfter?: number }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection, got a value');
}

/** Every upstream request a client makes, as the onRequest hook reports them. */
export function recorder(): { seen: { method: string; url: string; status: number }[]; hook: (i: { method: string; url: string; status: number }) => void } {
  const seen: { method: string; url: string; status: number }[] = [];
  return { seen, hook: (i) => seen.push(i) };
}
