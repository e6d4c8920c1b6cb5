// File-system failures of the sget store, as errors a person can act on. A full disk or an unusable directory is a
// 503 (the store cannot take a download now; /v2/ is unaffected); anything else is a 500 STORE_FAILED.
import { SigwardError } from '../errors.ts';

const FULL = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);
const UNUSABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'ENOENT', 'EEXIST', 'ELOOP', 'ENAMETOOLONG']);

export function errnoOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** `what` says what sget was doing, e.g. "writing sha256:… to the store". */
export function storeError(e: unknown, what: string, dir: string): SigwardError {
  if (e instanceof SigwardError) return e;
  const code = errnoOf(e) ?? 'error';
  const text = e instanceof Error ? e.message : String(e);
  if (FULL.has(code)) {
    return new SigwardError(
      'STORE_UNAVAILABLE',
      `the disk of the sget store ${dir} is full (${code}) while ${what}; nothing was served and the partial file was removed. Free space there or lower sget.storeSize`,
      {
        cause: e,
        reason: 'sget store disk full',
        retryAfter: 30,
      },
    );
  }
  if (UNUSABLE.has(code)) {
    return new SigwardError(
      'STORE_UNAVAILABLE',
      `the sget store ${dir} cannot be used (${text}) while ${what}; make it writable for the sigward user or point cache.dir at a directory that is (sget answers 503 until then; /v2/ is not affected)`,
      {
        cause: e,
        reason: 'sget store unusable',
      },
    );
  }
  return new SigwardError('STORE_FAILED', `the sget store ${dir} failed (${text}) while ${what}; nothing was served`, {
    cause: e,
    reason: 'sget store failed',
  });
}
