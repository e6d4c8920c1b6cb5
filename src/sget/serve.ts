// Answering an sget request from a verified store file: representation headers (type, length,
// ETag, RFC 9530 Repr-Digest and RFC 3230 Digest, a download file name), single byte ranges (RFC 9110 §14) for
// resumed downloads (`curl -C -`), HEAD. The answers say which bytes of which file; http/answer.ts streams the file
// straight into node's response (the fast path).
import { digestAlgorithm, digestHex, type Digest } from '../oci/digest.ts';
import {
  API_VERSION_HEADER,
  RefusalWithHeaders,
  type Answer,
  type DecisionNote,
  type FileAnswer,
} from '../proxy/answer.ts';
import type { OpenBlob } from './store.ts';

export interface ServedFile {
  readonly digest: Digest;
  readonly size: number;
  readonly mediaType: string;
  readonly title: string | undefined;
  /** Asked for by tag: the same URL may mean other bytes tomorrow, so caches must revalidate. */
  readonly byTag: boolean;
  /** The manifest the file was selected from (absent for a bare blob digest). */
  readonly manifestDigest?: Digest;
  /** A /v2/ blob answered from the blob cache: the headers of a relayed blob, not a download's (no attachment, no
   * long-lived caching a relayed answer does not allow either, no sget digest headers). */
  readonly v2Blob?: boolean;
}

const MEDIA_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

export type ByteRange = { readonly start: number; readonly end: number };

/** A single `bytes=` range, 'unsatisfiable', or undefined when the header is absent or not one valid range (then the
 * whole file is sent, as RFC 9110 §14.2 allows). */
export function parseRange(value: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  const m = value === undefined ? null : /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(value);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? size - 1 : Number(m[2]);
  if (m[2] !== '' && last < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(last, size - 1) };
}

/** Always `attachment` (a browser must not render what an upstream labels text/html on sigward's origin), with the
 * title's last path component as the file name: an ASCII fallback and RFC 8187 UTF-8. */
export function contentDisposition(title: string | undefined): string {
  const base =
    (title ?? '')
      .split(/[/\\]/)
      .pop()
      // eslint-disable-next-line no-control-regex -- a file name must not carry control characters into a header
      ?.replace(/[\x00-\x1f\x7f]/g, '') ?? '';
  if (base === '' || base === '.' || base === '..') return 'attachment';
  const ascii = base.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const utf8 = encodeURIComponent(base).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${utf8}`;
}

export function fileHeaders(f: ServedFile): Record<string, string> {
  if (f.v2Blob === true) {
    return {
      ...API_VERSION_HEADER,
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(f.size),
      ETag: `"${f.digest}"`,
      'Accept-Ranges': 'bytes',
      'Docker-Content-Digest': f.digest,
    };
  }
  const b64 = Buffer.from(digestHex(f.digest), 'hex').toString('base64');
  const alg = digestAlgorithm(f.digest) === 'sha512' ? 'sha-512' : 'sha-256';
  const h: Record<string, string> = {
    ...API_VERSION_HEADER,
    // The manifest is upstream data: a media type that is not one (a header injection) is not passed on.
    'Content-Type': MEDIA_TYPE_RE.test(f.mediaType) ? f.mediaType : 'application/octet-stream',
    'Content-Length': String(f.size),
    ETag: `"${f.digest}"`,
    'Accept-Ranges': 'bytes',
    'Docker-Content-Digest': f.digest,
    'Repr-Digest': `${alg}=:${b64}:`,
    Digest: `${alg}=${b64}`,
    'Cache-Control': f.byTag ? 'no-cache' : 'public, max-age=31536000, immutable',
    'X-Content-Type-Options': 'nosniff',
  };
  h['Content-Disposition'] = contentDisposition(f.title);
  if (f.manifestDigest !== undefined) h['X-Sigward-Manifest-Digest'] = f.manifestDigest;
  return h;
}

/** The range to serve, honouring If-Range (a range of other bytes than the client holds would corrupt its file). */
export function requestedRange(
  headers: { range?: string; 'if-range'?: string },
  f: ServedFile,
): ByteRange | 'unsatisfiable' | undefined {
  const ifRange = headers['if-range'];
  if (ifRange !== undefined && ifRange.trim() !== `"${f.digest}"`) return undefined;
  return parseRange(headers.range, f.size);
}

/** Answer HEAD from the headers alone. */
export function headAnswer(f: ServedFile, decision: DecisionNote): Answer {
  return { kind: 'bytes', status: 200, headers: fileHeaders(f), decision };
}

/**
 * The answer for a verified file (or one byte range of it). Takes ownership of `blob.fh`: the answer's writer closes
 * it, or it is closed here when the range cannot be served (416, the size in Content-Range). No `decision`: a file
 * served without one (a warm /v2/ blob of the blob cache).
 */
export async function fileAnswer(
  blob: OpenBlob,
  f: ServedFile,
  range: ByteRange | 'unsatisfiable' | undefined,
  decision?: DecisionNote,
): Promise<FileAnswer> {
  const headers = fileHeaders(f);
  if (range === 'unsatisfiable') {
    await blob.fh.close();
    throw new RefusalWithHeaders(
      'RANGE_INVALID',
      `the requested range is outside ${f.digest}, which is ${f.size} bytes long`,
      { 'Content-Range': `bytes */${f.size}` },
      {
        reason: 'range not satisfiable',
      },
    );
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? f.size - 1;
  if (range) {
    headers['Content-Range'] = `bytes ${start}-${end}/${f.size}`;
    headers['Content-Length'] = String(end - start + 1);
  }
  return { kind: 'file', status: range ? 206 : 200, headers, decision, fh: blob.fh, start, end };
}
