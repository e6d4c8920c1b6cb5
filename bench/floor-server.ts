// The manifest ceiling's process: the least a node process does to answer a manifest GET by asking an upstream, so
// that sigward's manifest figures can be stated against what node itself does on this machine in the same run
// (bench/README.md, "The contenders"). node:http for the client side and undici (the client sigward uses) with
// keep-alive connections for the upstream side; no routing, no policy, no cache, no digest check, no log. Two ways,
// by the path's prefix:
//   /v2/<repo>/manifests/<ref>         one GET upstream (the client's Accept passed on), the whole body read, then
//                                      answered with the upstream's status, type, digest and length; like sigward, it
//                                      keeps the last 200 per path and revalidates it (If-None-Match with its digest:
//                                      a 304 is answered with the kept bytes), so both ask the upstream the same;
//   /signed/v2/<repo>/manifests/<tag>  the shape of a cold signed pull: the tag's GET, then (its body hashed for the
//                                      digest) the GET of that digest's `sha256-<hex>.sig` manifest, read whole and
//                                      dropped; the tag's body is answered after both. No signature is checked.
// Started by floor.ts as `node --import tsx floor-server.ts <upstream url>`; prints `floor listening on URL`.
import { createHash } from 'node:crypto';
import http from 'node:http';
import { Pool } from 'undici';

const upstream = new URL(process.argv[2] ?? '');
if (upstream.protocol !== 'http:' || upstream.hostname !== '127.0.0.1') {
  process.stderr.write(`floor: upstream ${process.argv[2] ?? '(none)'} is not http://127.0.0.1:PORT\n`);
  process.exit(2);
}
const pool = new Pool(upstream.origin, { connections: 64, pipelining: 1 });

interface Got {
  readonly status: number;
  readonly type: string | undefined;
  readonly digest: string | undefined;
  readonly body: Buffer;
}

/** The last 200 answer per path (and Accept): revalidated with If-None-Match. Unbounded: a benchmark asks a few hundred. */
const kept = new Map<string, Got>();

async function get(path: string, accept: string | undefined): Promise<Got> {
  const key = `${path} ${accept ?? ''}`;
  const known = kept.get(key);
  const headers: Record<string, string> = accept === undefined ? {} : { accept };
  if (known?.digest !== undefined) headers['if-none-match'] = `"${known.digest}"`;
  const res = await pool.request({ method: 'GET', path, headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode === 304 && known !== undefined) return known;
  const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
  const got = {
    status: res.statusCode,
    type: one(res.headers['content-type']),
    digest: one(res.headers['docker-content-digest']),
    body,
  };
  if (got.status === 200) kept.set(key, got);
  return got;
}

async function answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const signed = url.startsWith('/signed/');
  const path = signed ? url.slice('/signed'.length) : url;
  const accept = req.headers.accept;
  const got = await get(path, accept);
  if (signed && got.status === 200) {
    const hex = createHash('sha256').update(got.body).digest('hex');
    const sigPath = path.replace(/\/manifests\/[^/?]+/, `/manifests/sha256-${hex}.sig`);
    const sig = await get(sigPath, accept);
    if (sig.status !== 200) {
      res.writeHead(502, { 'Content-Length': '0' }).end();
      return;
    }
  }
  const headers: Record<string, string> = { 'Content-Length': String(got.body.length) };
  if (got.type !== undefined) headers['Content-Type'] = got.type;
  if (got.digest !== undefined) headers['Docker-Content-Digest'] = got.digest;
  res.writeHead(got.status, headers).end(req.method === 'HEAD' ? undefined : got.body);
}

const server = http.createServer((req, res) => {
  answer(req, res).catch((e: unknown) => {
    process.stderr.write(`floor: ${String(e)}\n`);
    if (!res.headersSent) res.writeHead(502, { 'Content-Length': '0' });
    res.end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  if (addr === null || typeof addr === 'string') process.exit(1);
  process.stdout.write(`floor listening on http://127.0.0.1:${addr.port}\n`);
});
