// A registry whose storage issues redirects, as Docker Hub, ghcr.io and distribution on S3 do: a small front on
// 127.0.0.1 passes every request to a real distribution, except blob GETs, which it answers with a 307 to a second
// listener (the "storage", another origin) at a URL carrying a signature-like query. The storage serves the bytes it
// reads from distribution, Range included, and can be told to serve other bytes of the same length for a digest (a
// tampered CDN). Both count what they are asked, so tests can show which client fetched the bytes.
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { pipeline } from 'node:stream/promises';
import { listenOnLoopback } from './proc.ts';

export interface StorageRequest {
  readonly method: string;
  readonly path: string;
  /** Bytes of body sent. */
  readonly bytes: number;
}

export interface StorageFront {
  /** The front's base URL (the upstream sigward is configured with). */
  readonly url: string;
  /** The storage's origin (where blob GETs are redirected). */
  readonly storageUrl: string;
  /** Every request the storage answered. */
  readonly storageLog: StorageRequest[];
  /** Blob GETs the front answered with a redirect. */
  readonly redirects: string[];
  /** Serve bytes other than the stored ones (same length) for these digests. */
  readonly tampered: Set<string>;
  stop(): Promise<void>;
}

const BLOB_RE = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/;

function forward(target: URL, req: IncomingMessage, res: ServerResponse, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers, host: target.host };
    const up = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        let bytes = 0;
        answer.on('data', (c: Buffer) => (bytes += c.length));
        pipeline(answer, res).then(() => resolve(bytes), reject);
      },
    );
    up.on('error', reject);
    req.pipe(up);
  });
}

/** Start the front and its storage in front of the distribution at `registryUrl`. */
export async function startStorageFront(registryUrl: string): Promise<StorageFront> {
  const registry = new URL(registryUrl);
  const storageLog: StorageRequest[] = [];
  const redirects: string[] = [];
  const tampered = new Set<string>();
  const storage = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://storage.invalid');
    const m = /^\/storage\/(.+)\/(sha256:[a-f0-9]{64})$/.exec(u.pathname);
    if (!m?.[1] || !m[2] || u.searchParams.get('X-Signature') === null || req.method !== 'GET') {
      res.writeHead(403).end();
      return;
    }
    const digest = m[2];
    const fromRegistry = `/v2/${m[1]}/blobs/${digest}`;
    const done = (bytes: number): void => void storageLog.push({ method: req.method ?? '', path: u.pathname, bytes });
    if (!tampered.has(digest)) {
      forward(registry, req, res, fromRegistry).then(done, () => res.destroy());
      return;
    }
    // Tampered: the stored bytes with each one flipped, so the length (and any Range) still fits.
    const up = httpRequest({ host: registry.hostname, port: registry.port, path: fromRegistry, headers: req.headers });
    up.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      let bytes = 0;
      answer.on('data', (c: Buffer) => {
        bytes += c.length;
        res.write(Buffer.from(c.map((b) => b ^ 0xff)));
      });
      answer.on('end', () => res.end(() => done(bytes)));
    });
    up.on('error', () => res.destroy());
    up.end();
  });
  const { host: storageHost } = await listenOnLoopback(storage);
  const storageUrl = `http://${storageHost}`;
  const front = createServer((req, res) => {
    const path = req.url ?? '/';
    const m = BLOB_RE.exec(new URL(path, 'http://front.invalid').pathname);
    if (req.method === 'GET' && m?.[1] && m[2]) {
      redirects.push(m[2]);
      res.writeHead(307, {
        Location: `${storageUrl}/storage/${m[1]}/${m[2]}?X-Signature=${Math.random().toString(16).slice(2)}`,
        'Docker-Distribution-API-Version': 'registry/2.0',
      });
      res.end();
      return;
    }
    forward(registry, req, res, path).catch(() => res.destroy());
  });
  const { host } = await listenOnLoopback(front);
  const close = (s: Server): Promise<void> =>
    new Promise((resolve) => {
      s.closeAllConnections();
      s.close(() => resolve());
    });
  return {
    url: `http://${host}`,
    storageUrl,
    storageLog,
    redirects,
    tampered,
    stop: async () => {
      await close(front);
      await close(storage);
    },
  };
}
