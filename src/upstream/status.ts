// What an upstream's answer or failure means, in sigward's one error taxonomy. Status mapping lives in ONE function
// (upstreamStatusError) so every request kind reports upstream trouble the same way.
import { SigwardError } from '../errors.ts';
import { clip } from '../util/clip.ts';
import { header, type RawHeaders } from './body.ts';

/** What was asked for: decides the code of a bare 404 and the wording of messages. */
export type RequestKind = 'manifest' | 'blob' | 'tags' | 'referrers' | 'token' | 'ping';

export interface FailureContext {
  /** Configured upstream host, for messages. */
  readonly upstream: string;
  readonly method: string;
  /** The URL for messages: never with a query (presigned storage URLs carry credentials there). */
  readonly url: string;
  readonly kind: RequestKind;
  /** Whether credentials or a token were sent with the failing request. */
  readonly authenticated: boolean;
  readonly now: () => number;
}

const NOT_FOUND_CODES = new Set(['MANIFEST_UNKNOWN', 'BLOB_UNKNOWN', 'NAME_UNKNOWN']);

/** The upstream's own error (OCI distribution spec, "Error Codes"): first code and message, or clipped text. */
export function upstreamMessage(body: Uint8Array | undefined): { code?: string; message?: string } {
  if (body === undefined || body.length === 0) return {};
  const text = Buffer.from(body).toString('utf8');
  try {
    const parsed = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    const first = Array.isArray(parsed.errors) ? parsed.errors[0] : undefined;
    if (first !== undefined) {
      return {
        ...(typeof first.code === 'string' ? { code: first.code } : {}),
        ...(typeof first.message === 'string' && first.message !== '' ? { message: clip(first.message, 200) } : {}),
      };
    }
  } catch {
    // Not JSON (a proxy's HTML page, plain text): quote the start of it.
  }
  const trimmed = text.trim();
  return trimmed === '' ? {} : { message: clip(trimmed, 200) };
}

/** Retry-After (RFC 9110 section 10.2.3): delay-seconds or an HTTP-date; returned as whole seconds from now. */
export function parseRetryAfter(value: string | undefined, now: () => number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now()) / 1000));
}

/** Map a non-success upstream status to a SigwardError. `body` is the (capped) error body, if it was read. */
export function upstreamStatusError(
  status: number,
  headers: RawHeaders,
  body: Uint8Array | undefined,
  ctx: FailureContext,
): SigwardError {
  const said = upstreamMessage(body);
  const quote = said.message === undefined ? '' : ` (upstream said: ${said.message})`;
  const what = `${ctx.method} ${ctx.url}`;
  const detail = { upstream: ctx.upstream, status, ...(said.code === undefined ? {} : { upstreamCode: said.code }) };
  if (status === 404) {
    const code =
      said.code !== undefined && NOT_FOUND_CODES.has(said.code)
        ? (said.code as 'MANIFEST_UNKNOWN' | 'BLOB_UNKNOWN' | 'NAME_UNKNOWN')
        : ctx.kind === 'blob'
          ? 'BLOB_UNKNOWN'
          : ctx.kind === 'manifest'
            ? 'MANIFEST_UNKNOWN'
            : 'NAME_UNKNOWN';
    const noun = code === 'BLOB_UNKNOWN' ? 'blob' : code === 'MANIFEST_UNKNOWN' ? 'manifest' : 'repository';
    return new SigwardError(code, `${noun} not found at upstream ${ctx.upstream}: ${what} answered 404${quote}`, {
      detail,
    });
  }
  if (status === 401) {
    const challenge = header(headers, 'www-authenticate');
    const scopeErr =
      challenge !== undefined && /error="?insufficient_scope/i.test(challenge) ? ' (insufficient_scope)' : '';
    const fix = ctx.authenticated
      ? `it rejected the credentials sigward sent; check the credentials configured for upstream ${ctx.upstream} and that they may pull this repository`
      : `the repository may be private; configure credentials (auth: basic) for upstream ${ctx.upstream}`;
    return new SigwardError(
      'UPSTREAM_UNAUTHORIZED',
      `upstream ${ctx.upstream} answered 401 Unauthorized${scopeErr} to ${what}: ${fix}${quote}`,
      {
        detail,
        reason: 'upstream unauthorized',
      },
    );
  }
  if (status === 403) {
    return new SigwardError(
      'UPSTREAM_DENIED',
      `upstream ${ctx.upstream} denied ${what} (403)${quote}; check that the configured account may pull this repository`,
      { detail },
    );
  }
  if (status === 416) {
    return new SigwardError(
      'RANGE_INVALID',
      `upstream ${ctx.upstream} cannot satisfy the requested range for ${what} (416)`,
      { detail },
    );
  }
  const retryAfter = parseRetryAfter(header(headers, 'retry-after'), ctx.now);
  const retry = retryAfter === undefined ? {} : { retryAfter };
  if (status === 429) {
    const when = retryAfter === undefined ? '' : `; it asks to retry after ${retryAfter} s`;
    return new SigwardError(
      'UPSTREAM_RATE_LIMITED',
      `upstream ${ctx.upstream} rate-limited ${what} (429)${when}${quote}`,
      { detail, ...retry, reason: 'upstream rate limit' },
    );
  }
  if (status >= 500) {
    return new SigwardError(
      'UPSTREAM_UNAVAILABLE',
      `upstream ${ctx.upstream} failed: ${what} answered ${status}${quote}; try again later`,
      {
        detail,
        ...retry,
        reason: 'upstream unavailable',
      },
    );
  }
  return new SigwardError(
    'UPSTREAM_INVALID',
    `upstream ${ctx.upstream} answered ${what} with unexpected status ${status}${quote}`,
    { detail },
  );
}

const TIMEOUTS: Record<string, { doing: string; setting: string }> = {
  UND_ERR_CONNECT_TIMEOUT: { doing: 'connecting', setting: 'connect' },
  UND_ERR_HEADERS_TIMEOUT: { doing: 'waiting for response headers', setting: 'headers' },
  UND_ERR_BODY_TIMEOUT: { doing: 'waiting for the next part of the body', setting: 'body' },
};

/** Failures that happened before any response reached us and are safe to repeat for GET/HEAD. */
const RETRYABLE = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

export function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isRetryableConnectionError(e: unknown): boolean {
  const code = errorCode(e);
  return code !== undefined && RETRYABLE.has(code);
}

/** A transport failure (no usable HTTP answer) as a SigwardError. `phase` says how far the exchange had got. */
export function connectionError(e: unknown, ctx: FailureContext, phase: 'request' | 'body'): SigwardError {
  if (e instanceof SigwardError) return e;
  const code = errorCode(e) ?? 'unknown';
  const what = `${ctx.method} ${ctx.url}`;
  const detail = { upstream: ctx.upstream, errorCode: code };
  const timeout = TIMEOUTS[code];
  if (timeout !== undefined) {
    return new SigwardError(
      'UPSTREAM_TIMEOUT',
      `upstream ${ctx.upstream} timed out ${timeout.doing} for ${what}; check that it is reachable, or raise its timeouts.${timeout.setting}`,
      {
        cause: e,
        detail,
        reason: 'upstream timeout',
      },
    );
  }
  if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code)) {
    return new SigwardError(
      'UPSTREAM_UNAVAILABLE',
      `TLS with upstream ${ctx.upstream} failed (${code}) for ${what}; if it uses a private CA, set caFile for it`,
      {
        cause: e,
        detail,
        reason: 'upstream tls failure',
      },
    );
  }
  const where = phase === 'body' ? 'while sending the body' : 'before answering';
  return new SigwardError(
    'UPSTREAM_UNAVAILABLE',
    `upstream ${ctx.upstream} closed or refused the connection ${where} for ${what} (${code}); try again later`,
    {
      cause: e,
      detail,
      reason: 'upstream unavailable',
    },
  );
}
