// The distribution read API over hono. hono does routing and middleware; each handler parses the path, picks the
// upstream (routing.ts), asks a service for its answer and writes it with http/answer.ts, straight to node's
// ServerResponse (fast path, custom reason phrases). Every error goes through one place: writeError.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Hono, type Context } from 'hono';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { SigwardError } from '../errors.ts';
import { acceptOf } from '../oci/mediatypes.ts';
import { imageRef, referenceString } from '../oci/reference.ts';
import type { Logger } from '../log.ts';
import { API_VERSION_HEADER, type Answer } from '../proxy/answer.ts';
import type { ProxyService } from '../proxy/service.ts';
import { parseSgetPath } from '../sget/path.ts';
import type { SgetService } from '../sget/service.ts';
import { methodNotAllowed, parseV2Path } from './path.ts';
import { writeAnswer, writeError } from './answer.ts';
import { asSigwardError } from './respond.ts';
import type { Router } from './routing.ts';
import { accessLog, type RequestState } from './access-log.ts';
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

  app.all('/v2/*', async (c) => {
    await handleV2(c, deps);
    return RESPONSE_ALREADY_SENT;
  });
  app.all('/v2', async (c) => {
    await handleV2(c, deps);
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
    const e = asSigwardError(err);
    const state = c.get('state');
    if (state) state.error = e;
    if (e.code === 'INTERNAL') deps.log.error({ err, reqId: state?.id }, 'unexpected error');
    writeError(c.env.outgoing, e, clientMethod(c));
    return RESPONSE_ALREADY_SENT;
  });
  return app;
}

async function handleV2(
  c: Context<Env>,
  deps: { router: Router; proxy: ProxyAnswers; metrics?: SigwardMetrics },
): Promise<void> {
  const res = c.env.outgoing;
  const incoming = c.env.incoming;
  const state = c.get('state');
  const url = new URL(incoming.url ?? '/', 'http://sigward.invalid');
  const method = clientMethod(c);
  const route = parseV2Path(url.pathname);
  if (!route) throw new SigwardError('NOT_FOUND', `no such endpoint: ${method} ${url.pathname}`);
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
  state.image =
    route.kind === 'manifest'
      ? imageRef(target.upstream.host, target.repository, route.ref)
      : `${target.upstream.host}/${target.repository}`;
  if (route.kind === 'manifest') state.reference = referenceString(route.ref);
  const proxy = deps.proxy;
  const answer = (): Promise<Answer> => {
    switch (route.kind) {
      case 'manifest':
        return proxy.manifest({ target, ref: route.ref, accept: acceptOf(incoming.headers.accept), notes: state });
      case 'blob':
        return proxy.blob({ target, digest: route.digest, method, range: incoming.headers.range, notes: state });
      case 'tags':
        return proxy.tags({ target, url });
      case 'referrers':
        return proxy.referrers({ target, url, digest: route.digest });
    }
  };
  return writeAnswer(res, await answer(), method, route.kind === 'blob' ? deps.metrics?.served.blob : undefined);
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
