// The `class` label of sigward_upstream_errors_total: every failure of an upstream lands in one of a fixed set of
// classes, from what the error says about itself (its SigwardError code, the upstream's HTTP status, the system or
// undici error code of a failed connection). Failures sigward caused itself (a request it aborted because its client
// left) and answers (a 404) are not upstream failures: no class.
import { SigwardError } from '../errors.ts';

export const UPSTREAM_ERROR_CLASSES = [
  'timeout',
  'connect_refused',
  'connect_reset',
  'tls',
  'dns',
  'unauthorized',
  'denied',
  'rate_limited',
  'http_4xx',
  'http_5xx',
  'digest_mismatch',
  'too_large',
  'invalid',
  'other',
] as const;

export type UpstreamErrorClass = (typeof UPSTREAM_ERROR_CLASSES)[number];

/** SigwardError codes that say what went wrong whatever the status. */
const BY_CODE: Readonly<Record<string, UpstreamErrorClass>> = {
  UPSTREAM_TIMEOUT: 'timeout',
  UPSTREAM_DIGEST_MISMATCH: 'digest_mismatch',
  UPSTREAM_TOO_LARGE: 'too_large',
  // A manifest the upstream client could not even type (not JSON, no media type): an answer sigward cannot use.
  MANIFEST_INVALID: 'invalid',
};

/** Codes that are about the answer's status when the error carries none (a token service's refusal). */
const BY_CODE_WITHOUT_STATUS: Readonly<Record<string, UpstreamErrorClass>> = {
  UPSTREAM_UNAUTHORIZED: 'unauthorized',
  UPSTREAM_DENIED: 'denied',
  UPSTREAM_RATE_LIMITED: 'rate_limited',
  UPSTREAM_INVALID: 'invalid',
};

/** Connection errors (node's system codes, undici's codes) that are not timeouts. */
const BY_CONNECTION_CODE: Readonly<Record<string, UpstreamErrorClass>> = {
  ECONNREFUSED: 'connect_refused',
  EHOSTUNREACH: 'connect_refused',
  ENETUNREACH: 'connect_refused',
  EADDRNOTAVAIL: 'connect_refused',
  ECONNRESET: 'connect_reset',
  ECONNABORTED: 'connect_reset',
  EPIPE: 'connect_reset',
  UND_ERR_SOCKET: 'connect_reset',
  UND_ERR_CLOSED: 'connect_reset',
  ERR_STREAM_PREMATURE_CLOSE: 'connect_reset',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_FAIL: 'dns',
  EAI_NODATA: 'dns',
  EAI_NONAME: 'dns',
  ETIMEDOUT: 'timeout',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
};

/** Our own aborts: the request was given up by sigward (its client left), not failed by the upstream. */
const OWN_ABORTS = new Set(['UND_ERR_ABORTED', 'ABORT_ERR']);

const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HOSTNAME_MISMATCH|ERR_TLS/;

/** The class of a failed upstream request, or undefined when it is not a failure of the upstream. */
export function upstreamErrorClass(e: unknown): UpstreamErrorClass | undefined {
  if (e instanceof SigwardError) {
    const byCode = BY_CODE[e.code];
    if (byCode !== undefined) return byCode;
    // UPSTREAM_UNKNOWN is sigward refusing an unconfigured registry; MANIFEST_UNKNOWN and the like are answers.
    if (!e.code.startsWith('UPSTREAM_') || e.code === 'UPSTREAM_UNKNOWN') return undefined;
    const detail = (e.detail ?? {}) as { status?: unknown; errorCode?: unknown };
    if (typeof detail.status === 'number') return byStatus(detail.status);
    const fromCode = BY_CODE_WITHOUT_STATUS[e.code];
    if (fromCode !== undefined) return fromCode;
    const code = typeof detail.errorCode === 'string' ? detail.errorCode : codeOf(e.cause);
    if (code !== undefined && OWN_ABORTS.has(code)) return undefined; // a wrapped abort of sigward's own
    return code === undefined ? 'other' : (byConnectionCode(code) ?? 'other');
  }
  const code = codeOf(e);
  if (code === undefined) return (e as { name?: unknown } | null)?.name === 'AbortError' ? undefined : 'other';
  if (OWN_ABORTS.has(code)) return undefined;
  return byConnectionCode(code) ?? 'other';
}

function byStatus(status: number): UpstreamErrorClass {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'denied';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'http_5xx';
  if (status >= 400) return 'http_4xx';
  return 'invalid'; // a status sigward cannot use (a 3xx without Location, a 1xx, a 2xx other than asked)
}

function byConnectionCode(code: string): UpstreamErrorClass | undefined {
  return BY_CONNECTION_CODE[code] ?? (TLS_CODE.test(code) ? 'tls' : undefined);
}

/** The system or undici code of an error, or of its cause. */
function codeOf(e: unknown): string | undefined {
  for (let at = e, depth = 0; at !== null && typeof at === 'object' && depth < 4; depth++) {
    const code = (at as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    at = (at as { cause?: unknown }).cause;
  }
  return undefined;
}
