// How a SigwardError is answered: status, reason phrase (the one text containerd shows on a refusal) and OCI error
// body. Pure; http/answer.ts writes it.
import { HTTP_MAPPING, SigwardError, isSigwardError } from '../errors.ts';
import { API_VERSION_HEADER, RefusalWithHeaders } from '../proxy/answer.ts';
import { clip } from '../util/clip.ts';

export interface OciErrorBody {
  errors: { code: string; message: string; detail?: unknown }[];
}

/** Turn anything thrown into a SigwardError; unexpected errors become INTERNAL without leaking internals. */
export function asSigwardError(e: unknown): SigwardError {
  if (isSigwardError(e)) return e;
  return new SigwardError('INTERNAL', 'internal error in sigward (see its log for details)', { cause: e });
}

export function errorResponse(err: SigwardError): {
  status: number;
  reason: string | undefined;
  body: OciErrorBody;
  headers: Record<string, string>;
} {
  const map = HTTP_MAPPING[err.code];
  const headers: Record<string, string> = { ...API_VERSION_HEADER, 'Content-Type': 'application/json; charset=utf-8' };
  if (err.retryAfter !== undefined) headers['Retry-After'] = String(Math.max(0, Math.ceil(err.retryAfter)));
  if (err instanceof RefusalWithHeaders) Object.assign(headers, err.headers);
  // A reason phrase must be ASCII without CR/LF; keep it short.
  const reason =
    err.reason === undefined ? undefined : clip(`${defaultReason(map.status)} (${err.reason})`, 120, { marker: '' });
  const detail = err.detail && Object.keys(err.detail).length > 0 ? err.detail : undefined;
  return {
    status: map.status,
    reason,
    body: { errors: [{ code: map.oci, message: err.message, ...(detail ? { detail } : {}) }] },
    headers,
  };
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  416: 'Range Not Satisfiable',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function defaultReason(status: number): string {
  return REASONS[status] ?? 'Error';
}
