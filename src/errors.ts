// The one error taxonomy of sigward. Every layer throws SigwardError with a typed code; HTTP_MAPPING below gives
// each code one status and OCI error code, http/respond.ts turns an error into status, reason phrase and body, and
// http/answer.ts writes it out. `cause` chains keep the original error. A signature that does not verify is not an
// error: it is a verdict (policy/).

/** Codes, grouped by the layer that raises them. Each maps to exactly one HTTP status and OCI code (below). */
export type ErrorCode =
  // request grammar (http/, oci/)
  | 'NAME_INVALID'
  | 'TAG_INVALID'
  | 'DIGEST_INVALID'
  | 'RANGE_INVALID'
  | 'UNSUPPORTED'
  | 'NOT_FOUND'
  // routing / upstream selection
  | 'UPSTREAM_UNKNOWN'
  // what the upstream said
  | 'MANIFEST_UNKNOWN'
  | 'BLOB_UNKNOWN'
  | 'NAME_UNKNOWN'
  | 'UPSTREAM_DENIED'
  | 'UPSTREAM_UNAUTHORIZED'
  | 'UPSTREAM_RATE_LIMITED'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_TIMEOUT'
  // the upstream lied or sent something we refuse to handle
  | 'UPSTREAM_DIGEST_MISMATCH'
  | 'UPSTREAM_TOO_LARGE'
  | 'UPSTREAM_INVALID'
  | 'MANIFEST_INVALID'
  // the signature gate
  | 'DENIED'
  | 'VERIFY_UNAVAILABLE'
  | 'CONFLICT'
  // local configuration and files
  | 'CONFIG_INVALID'
  | 'KEY_INVALID'
  | 'TRUST_INVALID'
  // a TUF-kept trust root could be neither fetched nor loaded from its cache: the daemon does not start
  | 'TRUST_UNAVAILABLE'
  | 'STORE_FAILED'
  // the sget store cannot take a download now (directory unusable, disk full): 503, nothing served
  | 'STORE_UNAVAILABLE'
  | 'INTERNAL';

export interface ErrorOptions {
  cause?: unknown;
  /** Extra structured data for logs and the OCI `detail` field (never secrets). */
  detail?: Record<string, unknown>;
  /** Seconds, for 429/503 answers. */
  retryAfter?: number;
  /** Short text for the HTTP reason phrase (the only text containerd shows). ASCII, no CR/LF. */
  reason?: string;
}

export class SigwardError extends Error {
  readonly code: ErrorCode;
  readonly detail: Record<string, unknown> | undefined;
  readonly retryAfter: number | undefined;
  readonly reason: string | undefined;

  constructor(code: ErrorCode, message: string, opts: ErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SigwardError';
    this.code = code;
    this.detail = opts.detail;
    this.retryAfter = opts.retryAfter;
    this.reason = opts.reason;
  }
}

export function isSigwardError(e: unknown, code?: ErrorCode): e is SigwardError {
  return e instanceof SigwardError && (code === undefined || e.code === code);
}

/** How each code is answered over HTTP: status and the OCI distribution error code. */
export const HTTP_MAPPING: Readonly<Record<ErrorCode, { status: number; oci: string }>> = {
  NAME_INVALID: { status: 400, oci: 'NAME_INVALID' },
  TAG_INVALID: { status: 400, oci: 'TAG_INVALID' },
  DIGEST_INVALID: { status: 400, oci: 'DIGEST_INVALID' },
  RANGE_INVALID: { status: 416, oci: 'RANGE_INVALID' },
  UNSUPPORTED: { status: 405, oci: 'UNSUPPORTED' },
  NOT_FOUND: { status: 404, oci: 'NOT_FOUND' },
  UPSTREAM_UNKNOWN: { status: 404, oci: 'NAME_UNKNOWN' },
  MANIFEST_UNKNOWN: { status: 404, oci: 'MANIFEST_UNKNOWN' },
  BLOB_UNKNOWN: { status: 404, oci: 'BLOB_UNKNOWN' },
  NAME_UNKNOWN: { status: 404, oci: 'NAME_UNKNOWN' },
  UPSTREAM_DENIED: { status: 403, oci: 'DENIED' },
  UPSTREAM_UNAUTHORIZED: { status: 502, oci: 'UNAVAILABLE' },
  UPSTREAM_RATE_LIMITED: { status: 429, oci: 'TOOMANYREQUESTS' },
  UPSTREAM_UNAVAILABLE: { status: 503, oci: 'UNAVAILABLE' },
  UPSTREAM_TIMEOUT: { status: 503, oci: 'UNAVAILABLE' },
  UPSTREAM_DIGEST_MISMATCH: { status: 502, oci: 'DIGEST_INVALID' },
  UPSTREAM_TOO_LARGE: { status: 502, oci: 'SIZE_INVALID' },
  UPSTREAM_INVALID: { status: 502, oci: 'UNKNOWN' },
  MANIFEST_INVALID: { status: 502, oci: 'MANIFEST_INVALID' },
  DENIED: { status: 403, oci: 'DENIED' },
  VERIFY_UNAVAILABLE: { status: 503, oci: 'UNAVAILABLE' },
  CONFLICT: { status: 409, oci: 'UNSUPPORTED' },
  CONFIG_INVALID: { status: 500, oci: 'UNKNOWN' },
  KEY_INVALID: { status: 500, oci: 'UNKNOWN' },
  TRUST_INVALID: { status: 500, oci: 'UNKNOWN' },
  TRUST_UNAVAILABLE: { status: 500, oci: 'UNKNOWN' },
  STORE_FAILED: { status: 500, oci: 'UNKNOWN' },
  STORE_UNAVAILABLE: { status: 503, oci: 'UNAVAILABLE' },
  INTERNAL: { status: 500, oci: 'UNKNOWN' },
};
