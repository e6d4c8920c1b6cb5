// One upstream exchange whose body is small and wanted whole (manifests, lists, error bodies, HEAD): the bytes are
// collected straight from undici's dispatch callbacks into one buffer, under a cap chosen by the status, without the
// Readable stream that undici's request() builds (measured: that stream is a large share of a proxied tag GET).
// Blobs stay on request()'s stream (transport.ts): they are passed on as they arrive, never held whole.
import type { Dispatcher } from 'undici';
import type { RawHeaders } from './body.ts';

export interface BufferedAnswer {
  readonly statusCode: number;
  readonly headers: RawHeaders;
  /** The body, at most `capFor(statusCode)` bytes. */
  readonly bytes: Uint8Array;
  /** Set when the body was longer than the cap (declared or seen): bytes then hold only its start. */
  readonly overflow?: number;
}

/** A failure after the response headers arrived: the request reached the upstream, so it is not retried. */
export class BodyBrokenError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

export interface BufferedOptions {
  readonly origin: string;
  readonly path: string;
  readonly method: 'GET' | 'HEAD';
  readonly headers: Record<string, string>;
  readonly headersTimeout: number;
  readonly bodyTimeout: number;
  readonly signal?: AbortSignal | undefined;
  /** How many body bytes to keep for an answer of this status; past it the exchange is cut and `overflow` set. */
  readonly capFor: (status: number) => number;
}

const EMPTY = new Uint8Array(0);

/** Send one request and collect its answer. Rejects with the connection error (before headers) or BodyBrokenError. */
export function bufferedRequest(dispatcher: Dispatcher, o: BufferedOptions): Promise<BufferedAnswer> {
  return new Promise<BufferedAnswer>((resolve, reject) => {
    const signal = o.signal;
    if (signal?.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      return;
    }
    let controller: Dispatcher.DispatchController | undefined;
    let status = 0;
    let headers: RawHeaders = {};
    let cap = 0;
    let chunks: Buffer[] | undefined;
    let seen = 0;
    let started = false;
    let settled = false;
    const onAbort = (): void =>
      controller?.abort(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    const finish = (answer: BufferedAnswer | undefined, error?: unknown): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (answer !== undefined) resolve(answer);
      else reject(started ? new BodyBrokenError(error) : error instanceof Error ? error : new Error(String(error)));
    };
    // One exact copy: undici's chunks are views into the socket's read buffers, which must not be kept alive by a
    // cached manifest of a few hundred bytes.
    const collected = (): Uint8Array => {
      if (chunks === undefined) return EMPTY;
      let length = 0;
      for (const c of chunks) length += c.length;
      const out = new Uint8Array(length);
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.length;
      }
      return out;
    };
    const cut = (length: number): void => {
      // Keep what fits; resolve first so the abort's error callback finds the exchange settled.
      finish({ statusCode: status, headers, bytes: collected(), overflow: length });
      controller?.abort(new Error('sigward: answer over its size cap'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (signal?.aborted) onAbort();
      },
      onResponseStart(_c, statusCode, h) {
        if (statusCode < 200) return; // 1xx informational: the real answer follows
        started = true;
        status = statusCode;
        headers = h;
        cap = o.capFor(statusCode);
        const declared = h['content-length'];
        if (typeof declared === 'string' && /^\d+$/.test(declared) && Number(declared) > cap) cut(Number(declared));
      },
      onResponseData(_c, chunk) {
        if (settled) return;
        const room = cap - seen;
        seen += chunk.length;
        if (chunk.length > room) {
          if (room > 0) (chunks ??= []).push(chunk.subarray(0, room));
          cut(seen);
          return;
        }
        (chunks ??= []).push(chunk);
      },
      onResponseEnd() {
        finish({ statusCode: status, headers, bytes: collected() });
      },
      onResponseError(_c, error) {
        finish(undefined, error);
      },
    };
    try {
      dispatcher.dispatch(
        {
          origin: o.origin,
          path: o.path,
          method: o.method,
          headers: o.headers,
          headersTimeout: o.headersTimeout,
          bodyTimeout: o.bodyTimeout,
        },
        handler,
      );
    } catch (e) {
      finish(undefined, e);
    }
  });
}
