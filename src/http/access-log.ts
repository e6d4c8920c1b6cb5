// One access line per request, with a request id that is also returned to the client (X-Request-Id) so a user's
// report can be matched to the log. Credentials never reach the log: headers are not logged at all.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import type { Logger } from '../log.ts';
import type { RequestNotes } from '../proxy/answer.ts';
import { clip } from '../util/clip.ts';
import type { RequestObserver } from '../metrics/observers.ts';

/** The services fill in the digest, outcome and a late error (RequestNotes); routes.ts names the image. */
export interface RequestState extends RequestNotes {
  readonly start: bigint;
  image?: string;
  reference?: string;
}

const prefix = randomBytes(3).toString('hex');
let counter = 0;

export function nextRequestId(): string {
  counter = (counter + 1) % 0x7fffffff;
  return `${prefix}-${counter.toString(36)}`;
}

/** The middleware sees node's own request and response (@hono/node-server's bindings). */
type NodeEnv = {
  Bindings: { incoming: IncomingMessage; outgoing: ServerResponse };
  Variables: { state: RequestState };
};

/** Start one request: its id (also sent as X-Request-Id), its metrics and, at info, its access line when the
 * response closes. Shared by the hono middleware and the /v2/ fast path (routes.ts), which must log alike. */
export function requestStarter(
  log: Logger,
  metrics?: RequestObserver,
): (incoming: IncomingMessage, res: ServerResponse) => RequestState {
  return (incoming, res) => {
    const state: RequestState = { id: nextRequestId(), start: process.hrtime.bigint() };
    res.setHeader('X-Request-Id', state.id);
    const path = incoming.url ?? '';
    if (metrics !== undefined) res.once('close', () => metrics.request(path, res.statusCode, state.start));
    // The line is written at info: below that level nothing is built or listened for.
    if (!log.isLevelEnabled('info')) return state;
    const method = incoming.method ?? 'GET';
    const done = (): void => {
      const ms = Number(process.hrtime.bigint() - state.start) / 1e6;
      const line: Record<string, unknown> = {
        reqId: state.id,
        method,
        path: clip(path, 513, { ascii: false }),
        status: res.statusCode,
        ms: Math.round(ms * 100) / 100,
      };
      if (state.image) line.image = state.image;
      if (state.digest) line.digest = state.digest;
      if (state.outcome) line.outcome = state.outcome;
      if (state.error) {
        line.code = state.error.code;
        line.error = state.error.message;
      }
      if (!res.writableFinished) line.aborted = true;
      log.info(line, 'request');
    };
    // 'close' comes after 'finish' for an answer that was sent, and alone when the client went away first.
    res.once('close', done);
    return state;
  };
}

export function accessLog(log: Logger, metrics?: RequestObserver): MiddlewareHandler<NodeEnv> {
  const start = requestStarter(log, metrics);
  return async (c, next) => {
    c.set('state', start(c.env.incoming, c.env.outgoing));
    await next();
  };
}
