// /metrics in Prometheus text format: on the proxy's own listener (`metrics.listen: main`, a route in routes.ts) or
// on a listener of its own (`metrics.listen: HOST:PORT`, metricsServer), which answers nothing else.
import type { AddressInfo } from 'node:net';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { SigwardError } from '../errors.ts';
import type { SigwardMetrics } from '../metrics/metrics.ts';
import { writeError } from './answer.ts';

/** The exposition, never cached. HEAD: the same head without a body. */
export async function writeMetrics(res: ServerResponse, metrics: SigwardMetrics, method: string): Promise<void> {
  if (method !== 'GET' && method !== 'HEAD')
    throw new SigwardError('UNSUPPORTED', `${method} is not supported on /metrics; scrape it with GET`);
  const { body, contentType } = await metrics.text();
  const bytes = Buffer.from(body);
  res.writeHead(200, {
    'Content-Type': contentType,
    'Content-Length': String(bytes.length),
    'Cache-Control': 'no-store',
  });
  res.end(method === 'HEAD' ? undefined : bytes);
}

/** A server for the separate metrics address: /metrics, and 404 for any other path. The caller listens. */
export function metricsServer(metrics: SigwardMetrics): Server {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const start = process.hrtime.bigint();
    res.once('close', () => metrics.request(url, res.statusCode, start));
    if (url.split('?')[0] !== '/metrics') {
      writeError(res, new SigwardError('NOT_FOUND', 'this address serves /metrics only'), method);
      return;
    }
    writeMetrics(res, metrics, method).catch((e: unknown) =>
      writeError(
        res,
        e instanceof SigwardError ? e : new SigwardError('INTERNAL', `metrics: ${String(e)}`, { cause: e }),
        method,
      ),
    );
  });
  return server;
}

/** Listen on the separate metrics address; resolves once listening (with the URL to scrape), rejects
 * (CONFIG_INVALID) when it cannot. */
export async function listenMetrics(
  metrics: SigwardMetrics,
  at: { host: string; port: number },
): Promise<{ server: Server; url: string }> {
  const server = metricsServer(metrics);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new SigwardError(
          'CONFIG_INVALID',
          `cannot listen on metrics.listen ${at.host}:${at.port}: ${e.code === 'EADDRINUSE' ? 'the address is already in use' : e.message}`,
          { cause: e },
        ),
      ),
    );
    server.listen(at.port, at.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]:${addr.port}` : `${addr.address}:${addr.port}`;
  return { server, url: `http://${shown}/metrics` };
}
