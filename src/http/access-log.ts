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

export function accessLog(log: Logger, metrics?: RequestObserver): MiddlewareHandler<NodeEnv> {
  return async (c, next) => {
    const state: RequestState = { id: nextRequestId(), start: process.hrtime.bigint() };
    c.set('state', state);
    const res = c.env.outgoing;
    res.setHeader('X-Request-Id', state.id);
    const method = c.env.incoming.method ?? c.req.method;
    const path = c.env.incoming.url ?? '';
    if (metrics !== undefined) res.once('close', () => metrics.request(path, res.statusCode, state.start));
    // The line is written at info: below that level nothing is built or listened for.
    if (!log.isLevelEnabled('info')) {
      await next();
      return;
    }
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
    await next();
  };
}
