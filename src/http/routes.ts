// The distribution read API over hono. hono does routing and middleware; each handler parses the path, picks the
// upstream (routing.ts), asks a service for its answer and writes it with http/answer.ts, straight to node's
// ServerResponse (fast path, custom reason phrases). Every error goes through one place: writeError.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Hono, type Context } from 'hono';
import { getRequestListener } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { SigwardError } from '../errors.ts';
import { acceptOf } from '../oci/mediatypes.ts';
import { imageRef, referenceString } from '../oci/reference.ts';
import type { Logger } from '../log.ts';
import { API_VERSION_HEADER } from '../proxy/answer.ts';
import type { ProxyService } from '../proxy/service.ts';
import { parseSgetPath } from '../sget/path.ts';
import type { SgetService } from '../sget/service.ts';
import { methodNotAllowed, parseV2Path, type V2Route } from './path.ts';
import { writeAnswer, writeError } from './answer.ts';
import { asSigwardError } from './respond.ts';
import type { Router } from './routing.ts';
import type { Target } from '../proxy/target.ts';
import { accessLog, requestStarter, type RequestState } from './access-log.ts';
import type { Readiness } from './readiness.ts';
import type { SigwardMetrics } from '../metrics/metrics.ts';
import type { ByteCounter } from '../metrics/observers.ts';
import { writeMetrics } from './metrics.ts';

export type Bindings = { incoming: IncomingMessage; outgoing: ServerResponse };
export type Env = { Bindings: Bindings; Variables: { state: RequestState } };

/** The /v2/ services (proxy/service.ts). */
export type ProxyAnswers = Pick<ProxyService, 'manifest' | 'blob' | 'tags' | 'referrers'>;
/** The verified-download endpoint `/sget/…` (sget/service.ts). */
export type SgetAnswers = Pick<SgetService, 'answer'>;

/** The request method as the client sent it. Hono routes HEAD as GET (and would then re-wrap our already-sent
 * answer), so sigwardFetch hands HEAD requests to hono as GET and the handlers read the real method here. */
export function clientMethod(c: Context<Env>): string {
  return c.env.incoming.method ?? c.req.method;
}

/** Shaped like @hono/node-server's FetchCallback; sigward serves HTTP/1.1 only, so env is always Bindings. */
export type FetchHandler = (req: Request, env: unknown) => Response | Promise<Response>;

/** The fetch callback for @hono/node-server: HEAD is routed as GET, handlers answer HEAD themselves. */
export function sigwardFetch(app: Hono<Env>): FetchHandler {
  return (req, env) => {
    const bindings = env as Bindings;
    return req.method === 'HEAD'
      ? app.fetch(new Request(req.url, { method: 'GET', headers: req.headers }), bindings)
      : app.fetch(req, bindings);
  };
}

export function buildRoutes(deps: {
  router: Router;
  proxy: ProxyAnswers;
  log: Logger;
  sget?: SgetAnswers;
  readiness?: Pick<Readiness, 'report'>;
  /** Requests, bytes served; with `metricsRoute`, /metrics on this listener too (`metrics.listen: main`). */
  metrics?: SigwardMetrics;
  metricsRoute?: boolean;
}): Hono<Env> {
  const app = new Hono<Env>();
  app.use('*', accessLog(deps.log, deps.metrics));
  const metrics = deps.metricsRoute === true ? deps.metrics : undefined;
  if (metrics) {
    app.all('/metrics', async (c) => {
      await writeMetrics(c.env.outgoing, metrics, clientMethod(c));
      return RESPONSE_ALREADY_SENT;
    });
  }

  // /healthz: the process is up and answers (liveness). /readyz: it can serve (http/readiness.ts).
  app.get('/healthz', (c) => c.text('ok'));
  const readiness = deps.readiness;
  if (readiness) {
    app.get('/readyz', async (c) => {
      const report = await readiness.report();
      c.header('Cache-Control', 'no-store');
      return c.json(report, report.status === 'ready' ? 200 : 503);
    });
  }

  const v2 = v2Handler(deps);
  app.all('/v2/*', async (c) => {
    await v2(c.env.incoming, c.env.outgoing, c.get('state'), clientMethod(c));
    return RESPONSE_ALREADY_SENT;
  });
  app.all('/v2', async (c) => {
    await v2(c.env.incoming, c.env.outgoing, c.get('state'), clientMethod(c));
    return RESPONSE_ALREADY_SENT;
  });

  const sget = deps.sget;
  if (sget) {
    app.all('/sget/*', async (c) => {
      await handleSget(c, deps.router, sget, deps.metrics?.served.sget);
      return RESPONSE_ALREADY_SENT;
    });
  }

  app.notFound((c) => {
    const res = c.env.outgoing;
    writeError(
      res,
      new SigwardError('NOT_FOUND', `no such endpoint: ${clientMethod(c)} ${new URL(c.req.url).pathname}`),
      clientMethod(c),
    );
    return RESPONSE_ALREADY_SENT;
  });

  app.onError((err, c) => {
    answerError(deps.log, c.env.outgoing, err, c.get('state'), clientMethod(c));
    return RESPONSE_ALREADY_SENT;
  });
  return app;
}

/** What onError does with anything a handler threw: noted for the access line, logged when unexpected, answered. */
function answerError(
  log: Logger,
  res: ServerResponse,
  err: unknown,
  state: RequestState | undefined,
  method: string,
): void {
  const e = asSigwardError(err);
  if (state) state.error = e;
  if (e.code === 'INTERNAL') log.error({ err, reqId: state?.id }, 'unexpected error');
  writeError(res, e, method);
}

export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

/** A node request listener: GET and HEAD under /v2/ (every pull) go straight to the /v2/ handler, with the same
 * request id, metrics, access line and error answers as through hono, without building a web Request, a hono
 * context and its response; anything else goes through @hono/node-server to `fetch` (sigwardFetch of the app built
 * by buildRoutes from the same deps). `hostname`: @hono/node-server's, for requests without a Host header. */
export function nodeListener(
  deps: { router: Router; proxy: ProxyAnswers; log: Logger; metrics?: SigwardMetrics },
  fetch: FetchHandler,
  hostname?: string,
): NodeListener {
  const fallback = getRequestListener(fetch, hostname === undefined ? {} : { hostname });
  const v2 = v2Handler(deps);
  const start = requestStarter(deps.log, deps.metrics);
  return (req, res) => {
    const method = req.method;
    if ((method !== 'GET' && method !== 'HEAD') || !plainV2Request(req)) {
      void fallback(req, res);
      return;
    }
    const state = start(req, res);
    v2(req, res, state, method).catch((err: unknown) => answerError(deps.log, res, err, state, method));
  };
}

/** A request the fast path may take: one that @hono/node-server would take as it is (a plain Host header, an
 * origin-form target of plain characters without dot segments: the checks of its src/url.ts) and that hono would route
 * to the /v2/ handler (`/v2`, `/v2/…`, with or without a query). Anything else keeps going through them: their
 * refusals (400) and normalisations (`/v2/../x`, percent-escapes) stay theirs. */
export function plainV2Request(req: Pick<IncomingMessage, 'url' | 'headers'>): boolean {
  const url = req.url;
  if (url === undefined || !url.startsWith('/v2')) return false;
  const next = url.charCodeAt(3);
  // end of string, '/', '?' or '#'
  if (!(Number.isNaN(next) || next === 47 || next === 63 || next === 35)) return false;
  const host = req.headers.host;
  return host !== undefined && PLAIN_HOST.test(host) && PLAIN_TARGET.test(url) && !DOT_SEGMENT.test(url);
}

// As @hono/node-server's reValidHost, reValidRequestUrl and reDotSegment.
const PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;
const PLAIN_TARGET = /^\/[!#$&-;=?-[\]_a-z~]*$/;
const DOT_SEGMENT = /\/\.\.?(?:[/?#]|$)/;

/** A manifest or blob request as parsed and routed once (V2Handler keeps them by request URL). */
interface Placed {
  readonly route: Extract<V2Route, { kind: 'manifest' | 'blob' }>;
  readonly target: Target;
  readonly image: string;
  readonly reference: string | undefined;
}

/** Request URLs remembered with their parse and routing, and the longest one kept: a pull asks the same few URLs
 * again and again (its tag, its digests), and parsing, routing and naming them was a visible share of a cached GET.
 * Only successes are kept; emptied when full. Per handler, so per app generation (its router). */
const PLACED_ENTRIES = 2048;
const PLACED_URL_CHARS = 1024;

/** The /v2/ handler: answers one request (or throws, for the caller's error answer). */
function v2Handler(deps: {
  router: Router;
  proxy: ProxyAnswers;
  metrics?: SigwardMetrics;
}): (incoming: IncomingMessage, res: ServerResponse, state: RequestState, method: string) => Promise<void> {
  const placed = new Map<string, Placed>();
  return async (incoming, res, state, method) => {
    const raw = incoming.url ?? '/';
    const known = method === 'GET' || method === 'HEAD' ? placed.get(raw) : undefined;
    if (known !== undefined) {
      state.image = known.image;
      if (known.reference !== undefined) state.reference = known.reference;
      return answerPlaced(incoming, res, state, method, known, deps);
    }
    const url = new URL(raw, 'http://sigward.invalid');
    const route = parseV2Path(url.pathname);
    if (!route) throw new SigwardError('NOT_FOUND', `no such endpoint: ${method} ${url.pathname}`);
    if (route.kind === 'manifest' || route.kind === 'blob') {
      if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(method);
      const target = deps.router.resolve(route.name, url.searchParams.get('ns'));
      const p: Placed = {
        route,
        target,
        image:
          route.kind === 'manifest'
            ? imageRef(target.upstream.host, target.repository, route.ref)
            : `${target.upstream.host}/${target.repository}`,
        reference: route.kind === 'manifest' ? referenceString(route.ref) : undefined,
      };
      if (raw.length <= PLACED_URL_CHARS) {
        if (placed.size >= PLACED_ENTRIES) placed.clear();
        placed.set(raw, p);
      }
      state.image = p.image;
      if (p.reference !== undefined) state.reference = p.reference;
      return answerPlaced(incoming, res, state, method, p, deps);
    }
    return handleV2(incoming, res, state, method, url, route, deps);
  };
}

/** A manifest or blob GET/HEAD: the service's answer, written. */
async function answerPlaced(
  incoming: IncomingMessage,
  res: ServerResponse,
  state: RequestState,
  method: string,
  p: Placed,
  deps: { proxy: ProxyAnswers; metrics?: SigwardMetrics },
): Promise<void> {
  const { route, target } = p;
  if (route.kind === 'manifest') {
    const accept = acceptOf(incoming.headers.accept);
    return writeAnswer(res, await deps.proxy.manifest({ target, ref: route.ref, accept, notes: state }), method);
  }
  const answer = await deps.proxy.blob({
    target,
    digest: route.digest,
    method: method as 'GET' | 'HEAD',
    range: incoming.headers.range,
    notes: state,
  });
  return writeAnswer(res, answer, method, deps.metrics?.served.blob);
}

/** The other /v2/ requests: the ping, tag lists, referrers, uploads and other methods (refused). */
async function handleV2(
  incoming: IncomingMessage,
  res: ServerResponse,
  state: RequestState,
  method: string,
  url: URL,
  route: Exclude<V2Route, { kind: 'manifest' | 'blob' }>,
  deps: { router: Router; proxy: ProxyAnswers },
): Promise<void> {
  if (route.kind === 'upload' || (method !== 'GET' && method !== 'HEAD')) {
    if (route.kind === 'ping' && method === 'OPTIONS') {
      return writeAnswer(
        res,
        { kind: 'bytes', status: 204, headers: { ...API_VERSION_HEADER, Allow: 'GET, HEAD' } },
        method,
      );
    }
    throw methodNotAllowed(method);
  }
  if (route.kind === 'ping') {
    const body = Buffer.from('{}');
    return writeAnswer(
      res,
      {
        kind: 'bytes',
        status: 200,
        headers: { ...API_VERSION_HEADER, 'Content-Type': 'application/json', 'Content-Length': '2' },
        body,
      },
      method,
    );
  }
  const target = deps.router.resolve(route.name, url.searchParams.get('ns'));
  state.image = `${target.upstream.host}/${target.repository}`;
  const answer =
    route.kind === 'tags'
      ? await deps.proxy.tags({ target, url })
      : await deps.proxy.referrers({ target, url, digest: route.digest });
  return writeAnswer(res, answer, method);
}

async function handleSget(
  c: Context<Env>,
  router: Router,
  sget: SgetAnswers,
  served: ByteCounter | undefined,
): Promise<void> {
  const incoming = c.env.incoming;
  const state = c.get('state');
  const url = new URL(incoming.url ?? '/', 'http://sigward.invalid');
  const method = clientMethod(c);
  if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(method);
  const route = parseSgetPath(url.pathname.slice('/sget/'.length));
  // An sget path always names its registry host (sget/path.ts): no ?ns=.
  const target = router.resolve(route.name, null);
  state.image =
    route.kind === 'blob'
      ? `${target.upstream.host}/${target.repository}`
      : imageRef(target.upstream.host, target.repository, route.ref);
  if (route.kind === 'artifact') state.reference = referenceString(route.ref);
  const answer = await sget.answer({
    route,
    target,
    method,
    file: url.searchParams.get('file') ?? undefined,
    range: incoming.headers,
    notes: state,
  });
  return writeAnswer(c.env.outgoing, answer, method, served);
}
