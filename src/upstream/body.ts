// Reading undici bodies with a cap, and getting rid of the ones we do not want. Every body is either read to the
// end, dumped, or destroyed: an unconsumed undici body keeps its socket out of the pool (undici README, "Garbage
// Collection"), which under load looks like an upstream that stopped answering.
import type { Readable } from 'node:stream';

/** Response headers as undici hands them over (lowercase names). */
export type RawHeaders = Record<string, string | string[] | undefined>;

/** Read the whole body, but no more than `cap` bytes: past it the body is destroyed and `tooLarge()` is thrown. */
export async function readCapped(body: Readable, cap: number, tooLarge: (seen: number) => Error): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let seen = 0;
  try {
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      seen += buf.length;
      if (seen > cap) throw tooLarge(seen);
      chunks.push(buf);
    }
  } finally {
    // A no-op after a complete read; after a throw it releases the socket instead of leaving the rest unread.
    if (!body.readableEnded) release(body);
  }
  return new Uint8Array(Buffer.concat(chunks, seen));
}

/** The first `cap` bytes of a body we only want for an error message; the rest is thrown away. Never throws. */
export async function readHead(body: Readable, cap: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let seen = 0;
  try {
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      chunks.push(buf.subarray(0, Math.max(0, cap - seen)));
      seen += buf.length;
      if (seen >= cap) break;
    }
  } catch {
    // A broken error body still leaves us the status code, which is what the caller maps.
  } finally {
    if (!body.readableEnded) release(body);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/** Drop a body we do not need (redirects, 401s, HEAD): small ones are drained so the socket can be reused. */
export async function discard(body: Readable & { dump?: (opts?: { limit: number }) => Promise<void> }): Promise<void> {
  try {
    if (typeof body.dump === 'function') await body.dump({ limit: 64 * 1024 });
    else release(body);
  } catch {
    release(body);
  }
}

/**
 * Destroy a body we will not read. undici's body turns a plain destroy() into an 'error' event (RequestAbortedError),
 * which would be an uncaught exception with no listener; the listener added here takes it.
 */
export function release(body: Readable): void {
  if (body.destroyed) return;
  body.on('error', () => {});
  body.destroy();
}

/** Content-Length as a number, when present and well formed. */
export function contentLength(headers: RawHeaders): number | undefined {
  const v = header(headers, 'content-length');
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/** One header as a single string (repeated headers joined with ", " as RFC 9110 section 5.3 allows). */
export function header(headers: RawHeaders, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(', ') : v;
}

/** All headers with lowercase names and single string values. */
export function flatHeaders(headers: RawHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}
