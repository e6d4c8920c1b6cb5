// Bounds on how long an upstream body may take. undici's bodyTimeout (timeouts.body) only measures the silence
// between two chunks, so a body that drips a byte now and then would keep a request, a socket and (for sget) a store
// reservation forever. Every upstream answer therefore also gets, from its response headers on:
//   - an overall deadline (limits.bodyDeadline), whatever the cause, a slow client included;
//   - a minimum rate (limits.minBodyRate bytes/s, checked over each limits.bodyRateWindow): a window in which the
//     upstream sent less fails, unless sigward itself held the body back (backpressure from a slow client, the disk
//     or the hashing thread: the controller was paused), which is not the upstream's fault.
// Both are enforced in one undici interceptor, so streamed blobs and buffered answers (manifests, signature blobs)
// share them. When one fires, the exchange is aborted with an UPSTREAM_TIMEOUT error that names the limit: a buffered
// request rejects with it, a streamed body is destroyed with it (its reader decides: an error answer, or a cut
// connection once a status line went out).
import type { Dispatcher } from 'undici';
import { SigwardError } from '../errors.ts';
import type { Duplex } from 'node:stream';

export interface BodyLimits {
  /** Longest time one upstream body may take, from its response headers to its last byte. */
  readonly bodyDeadlineMs: number;
  /** Fewest bytes per second an upstream must send in each rate window; 0 turns the check off. */
  readonly minBodyRate: number;
  readonly bodyRateWindowMs: number;
}

const seconds = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

/** `dispatcher` with every body it delivers held to `limits`; `upstream` names the registry in messages. */
export function watchBodies(dispatcher: Dispatcher, limits: BodyLimits, upstream: string): Dispatcher {
  return dispatcher.compose(
    (dispatch) => (opts, handler) => dispatch(opts, new WatchedHandler(handler, limits, upstream, opts)),
  );
}

class WatchedHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private windowBytes = 0;
  /** Set when sigward paused the body during the current window (backpressure): that window is not judged. */
  private heldBack = false;

  constructor(
    private readonly inner: Dispatcher.DispatchHandler,
    private readonly limits: BodyLimits,
    private readonly upstream: string,
    private readonly opts: Dispatcher.DispatchOptions,
  ) {}

  /** The request, for messages (built only when one is written). No query: it may hold a storage signature. */
  private get what(): string {
    const { method, origin, path } = this.opts;
    return `${method ?? 'GET'} ${String(origin ?? '')}${(path ?? '').split('?')[0] ?? ''}`;
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.controller = controller;
    this.inner.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[]>,
    socket: Duplex,
  ): void {
    this.inner.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    if (statusCode >= 200 && this.deadline === undefined) this.start();
    this.inner.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.windowBytes += chunk.length;
    this.inner.onResponseData?.(controller, chunk);
    if (controller.paused) this.heldBack = true;
  }

  onResponseEnd(
    controller: Dispatcher.DispatchController,
    trailers: Record<string, string | string[] | undefined>,
  ): void {
    this.stop();
    this.inner.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.stop();
    this.inner.onResponseError?.(controller, error);
  }

  private start(): void {
    const { bodyDeadlineMs, minBodyRate, bodyRateWindowMs } = this.limits;
    this.deadline = setTimeout(() => {
      this.expire(
        new SigwardError(
          'UPSTREAM_TIMEOUT',
          `upstream ${this.upstream} was still sending the body of ${this.what} when limits.bodyDeadline (${seconds(bodyDeadlineMs)}) ran out; raise limits.bodyDeadline if bodies this big or slow are expected`,
          {
            detail: { upstream: this.upstream, limit: 'limits.bodyDeadline', ms: bodyDeadlineMs },
            reason: 'upstream body over limits.bodyDeadline',
          },
        ),
      );
    }, bodyDeadlineMs);
    this.deadline.unref();
    if (minBodyRate <= 0) return;
    const least = Math.ceil((minBodyRate * bodyRateWindowMs) / 1000);
    this.ticker = setInterval(() => {
      const sent = this.windowBytes;
      const excused = this.heldBack || this.controller?.paused === true;
      this.windowBytes = 0;
      this.heldBack = false;
      if (sent >= least || excused) return;
      this.expire(
        new SigwardError(
          'UPSTREAM_TIMEOUT',
          `upstream ${this.upstream} sent ${sent} bytes of the body of ${this.what} in ${seconds(bodyRateWindowMs)}, under limits.minBodyRate (${minBodyRate} bytes/s); lower limits.minBodyRate (0 turns the check off) if this upstream is that slow`,
          {
            detail: { upstream: this.upstream, limit: 'limits.minBodyRate', bytesPerSecond: minBodyRate },
            reason: 'upstream body under limits.minBodyRate',
          },
        ),
      );
    }, bodyRateWindowMs);
    this.ticker.unref();
  }

  private expire(err: SigwardError): void {
    this.stop();
    this.controller?.abort(err);
  }

  private stop(): void {
    clearTimeout(this.deadline);
    clearInterval(this.ticker);
    this.ticker = undefined;
  }
}
