// The distribution read API over hono. Handlers write to node's ServerResponse directly (fast path, custom reason
// phrases); hono does routing and middleware. Every error goes through one place: writeError.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Hono, type Context } from 'hono';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { SigwardError } from '../errors.ts';
import { acceptOf } from '../oci/mediatypes.ts';
import { imageRef, referenceString } from '../oci/reference.ts';
import type { Logger } from '../log.ts';
import { methodNotAllowed, parseV2Path, type V2Route } from './path.ts';
import { API_VERSION_HEADER, asSigwardError, writeBytes, writeError } from './respond.ts';
import type { Router, Target } from './routing.ts';
import { accessLog, type RequestState } from './access-log.ts';

export type Bindings = { incoming: IncomingMessage; outgoing: ServerResponse };
export type Env = { Bindings: Bindings; Variables: { state: RequestState } };

/** What the routes need from the proxy layer (implemented in proxy/service.ts). */
export interface ProxyHandlers {
  manifest(req: RouteRequest, route: Extract<V2Route, { kind: 'manifest' }>, target: Target): Promise<void>;
  blob(req: RouteRequest, route: Extract<V2Route, { kind: 'blob' }>, target: Target): Promise<void>;
  tags(req: RouteRequest, route: Extract<V2Route, { kind: 'tags' }>, target: Target): Promise<void>;
  referrers(req: RouteRequest, route: Extract<V2Route, { kind: 'referrers' }>, target: Target): Promise<void>;
}

/** The verified-download endpoint `/sget/…` (implemented in sget/service.ts). */
export interface SgetHandler {
  /** `rest` is the request path after `/sget/`, as the client sent it. */
  handle(req: RouteRequest, rest: string): Promise<void>;
}

export interface RouteRequest {
  readonly method: 'GET' | 'HEAD';
  readonly url: URL;
  readonly headers: IncomingMessage['headers'];
  readonly res: ServerResponse;
  readonly state: RequestState;
  readonly accept: ReadonlySet<string>;
}

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
    return req.method === 'HEAD' ? app.fetch(new Request(req.url, { method: 'GET', headers: req.headers }), bindings) : app.fetch(req, bindings);
  };
}

export function buildRoutes(deps: { router: Router; proxy: ProxyHandlers; log: Logger; sget?: SgetHandler }): Hono<Env> {
  const app = new Hono<Env>();
  app.use('*', accessLog(deps.log));

  app.get('/healthz', (c) => c.text('ok'));

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
      await handleSget(c, sget);
      return RESPONSE_ALREADY_SENT;
    });
  }

  app.notFound((c) => {
    const res = c.env.outgoing;
    writeError(res, new SigwardError('NOT_FOUND', `no such endpoint: ${clientMethod(c)} ${new URL(c.req.url).pathname}`), clientMethod(c));
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

async function handleV2(c: Context<Env>, deps: { router: Router; proxy: ProxyHandlers }): Promise<void> {
  const res = c.env.outgoing;
  const incoming = c.env.incoming;
  const state = c.get('state');
  const url = new URL(incoming.url ?? '/', 'http://sigward.invalid');
  const method = clientMethod(c);
  const route = parseV2Path(url.pathname);
  if (!route) throw new SigwardError('NOT_FOUND', `no such endpoint: ${method} ${url.pathname}`);
  if (route.kind === 'upload' || (method !== 'GET' && method !== 'HEAD')) {
    if (route.kind === 'ping' && method === 'OPTIONS') {
      writeBytes(res, 204, { ...API_VERSION_HEADER, Allow: 'GET, HEAD' }, undefined, method);
      return;
    }
    throw methodNotAllowed(method);
  }
  if (route.kind === 'ping') {
    writeBytes(res, 200, { ...API_VERSION_HEADER, 'Content-Type': 'application/json', 'Content-Length': '2' }, Buffer.from('{}'), method);
    return;
  }
  const target = deps.router.resolve(route.name, url.searchParams.get('ns'));
  state.image = route.kind === 'manifest' ? imageRef(target.upstream.host, target.repository, route.ref) : `${target.upstream.host}/${target.repository}`;
  if (route.kind === 'manifest') state.reference = referenceString(route.ref);
  const req: RouteRequest = { method: method as 'GET' | 'HEAD', url, headers: incoming.headers, res, state, accept: acceptOf(incoming.headers.accept) };
  switch (route.kind) {
    case 'manifest':
      return deps.proxy.manifest(req, route, target);
    case 'blob':
      return deps.proxy.blob(req, route, target);
    case 'tags':
      return deps.proxy.tags(req, route, target);
    case 'referrers':
      return deps.proxy.referrers(req, route, target);
  }
}

async function handleSget(c: Context<Env>, sget: SgetHandler): Promise<void> {
  const incoming = c.env.incoming;
  const url = new URL(incoming.url ?? '/', 'http://sigward.invalid');
  const method = clientMethod(c);
  if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(method);
  const req: RouteRequest = { method, url, headers: incoming.headers, res: c.env.outgoing, state: c.get('state'), accept: acceptOf(incoming.headers.accept) };
  await sget.handle(req, url.pathname.slice('/sget/'.length));
}
