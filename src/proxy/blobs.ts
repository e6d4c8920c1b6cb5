// Blobs stream through without being buffered, hashed on the way. The last chunk is held back until the digest
// matches, so a client never receives a complete body whose digest is wrong: on a mismatch the connection is cut
// and the client sees a truncated body (its own digest check then fails too). The status line waits for the first
// byte that goes out, so a failure before that (a one-chunk blob with wrong bytes, an upstream that breaks before
// sending anything) is still answered with a proper OCI error instead of a bare connection reset. Range requests are
// passed through: a part of a blob cannot be checked against the digest of the whole (clients re-check the whole).
// The hashing is on the main thread, whatever the size: measured on the 2-core benchmark machine (sha256 with SHA-NI,
// about 0.6 core-seconds per GB), relaying through a worker thread was no faster, since both cores are busy with
// sockets, the client and the registry anyway, while its batches and a postMessage per batch cost 20-50 MiB more
// memory with 20 streams (sget's downloads do use the worker: proxy/hash-thread.ts).
// The checking is here; the writing is http/answer.ts's, behind the BodySink it hands in (chunks pass as they are).
// Two other ways out, per upstream (`blobs:`): `redirect` hands the upstream's redirect to its storage to the client
// (no byte passes here; the client checks the digest, as every runtime does), and `cache` copies a relayed body into
// the shared store through a BlobTap, kept only once its digest checked out (the store is sget's: sget/blob-cache.ts).
import { createHash } from 'node:crypto';
import { SigwardError } from '../errors.ts';
import { digestAlgorithm, type Digest } from '../oci/digest.ts';
import { release } from '../upstream/body.ts';
import { API_VERSION_HEADER, type Answer, type BodySink } from './answer.ts';
import type { BlobRedirect, BlobStream } from './types.ts';

/** A copy of a relayed whole blob on its way into the store. Nothing of it is kept unless `keep` is called, which
 * relayBlob does only after the digest matched. */
export interface BlobTap {
  /** False: the copy cannot take more now; wait for onRoom. A copy that failed takes everything (and drops it). */
  write(chunk: Buffer): boolean;
  onRoom(fn: () => void): void;
  /** The digest matched: store the copy (in the background; a failure there is logged, the client is served). */
  keep(): void;
  /** The relay failed or the client left: remove the copy. */
  abandon(): void;
}

/** The blobs kept on disk for upstreams with `blobs: cache`. */
export interface BlobCache {
  /** The answer from the store (whole, one byte range, or HEAD's headers), or undefined when it does not hold the
   * blob (or held a file that failed its check, now removed): then the blob is relayed. */
  serve(digest: Digest, method: 'GET' | 'HEAD', range: string | undefined): Promise<Answer | undefined>;
  /** A copy to fill the store while `size` bytes are relayed; undefined when not now (size unknown or over
   * sget.maxArtifactSize, no room, the same digest already being copied, the store unusable). */
  tap(digest: Digest, size: number | undefined): Promise<BlobTap | undefined>;
}

/** The upstream's redirect as the client's answer: the same status and Location, no body, no credentials. */
export function redirectAnswer(digest: Digest, r: BlobRedirect): Answer {
  return {
    kind: 'bytes',
    status: r.status,
    headers: {
      ...API_VERSION_HEADER,
      'Docker-Content-Digest': digest,
      Location: r.location.href,
      'Content-Length': '0',
      // A signed storage URL expires: nobody in between may keep the redirect.
      'Cache-Control': 'no-store',
    },
  };
}

const PASS_HEADERS = ['content-type', 'content-range', 'accept-ranges', 'etag', 'last-modified'];

export function blobHeaders(
  digest: Digest,
  upstream: Record<string, string>,
  size: number | undefined,
): Record<string, string> {
  const h: Record<string, string> = { ...API_VERSION_HEADER, 'Docker-Content-Digest': digest };
  for (const k of PASS_HEADERS) {
    const v = upstream[k];
    if (v !== undefined) h[k] = v;
  }
  h['content-type'] ??= 'application/octet-stream';
  if (size !== undefined) h['Content-Length'] = String(size);
  return h;
}

export interface StreamOutcome {
  readonly bytes: number;
  readonly verified: boolean;
}

/**
 * Relay an upstream blob body into `sink` with backpressure. For a full (200) body the sha256 is checked before the
 * final chunk is sent; `onMismatch` is told before the sink is cut. The returned promise rejects on failure; when
 * nothing had been sent yet the sink is left untouched for the caller's error answer. A `copy` (cache) gets every
 * byte too, and is kept only when the digest matched.
 */
export function relayBlob(
  sink: BodySink,
  blob: BlobStream,
  digest: Digest,
  onMismatch: (err: SigwardError) => void,
  copy?: BlobTap,
): Promise<StreamOutcome> {
  const verify = blob.status === 200;
  // Only a whole body, checked against the digest, may be kept.
  if (!verify) copy?.abandon();
  const tap = verify ? copy : undefined;
  const alg = digestAlgorithm(digest);
  const hash = verify ? createHash(alg) : undefined;
  // Set before the first write or end: from then on the status line is out.
  let started = false;
  return new Promise((resolve, reject) => {
    let held: Buffer | undefined;
    let bytes = 0;
    let finished = false;
    // The upstream is paused while the client cannot take more, or while the cache's copy cannot.
    let tapFull = false;
    const body = blob.body;
    const resume = (): void => {
      if (!finished && !tapFull && !sink.full) body.resume();
    };
    const fail = (err: Error): void => {
      if (finished) return;
      finished = true;
      tap?.abandon();
      release(body);
      // Once the status line is out, cutting the connection is the only honest signal left.
      if (started) sink.cut(err);
      reject(err);
    };
    sink.onClose(() => {
      if (!finished) {
        finished = true;
        tap?.abandon();
        release(body);
        resolve({ bytes, verified: false });
      }
    });
    sink.onDrain(resume);
    tap?.onRoom(() => {
      tapFull = false;
      resume();
    });
    body.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (!hash) {
        started = true;
        if (!sink.write(chunk)) body.pause();
        return;
      }
      hash.update(chunk);
      if (tap !== undefined && !tap.write(chunk)) {
        tapFull = true;
        body.pause();
      }
      if (held !== undefined) {
        started = true;
        if (!sink.write(held)) body.pause();
      }
      held = chunk;
    });
    const onError = (e: Error): void => {
      // A body limit (upstream/body-watch.ts) already says which limit fired and what to raise.
      if (e instanceof SigwardError) return fail(e);
      const code = (e as { code?: unknown }).code;
      const why =
        code === 'UND_ERR_BODY_TIMEOUT'
          ? 'it went silent for longer than its timeouts.body'
          : `the connection broke (${typeof code === 'string' ? code : 'unknown error'})`;
      fail(
        new SigwardError(
          'UPSTREAM_UNAVAILABLE',
          `upstream stopped sending blob ${digest} after ${bytes} bytes: ${why}; try again later`,
          { cause: e, reason: 'upstream unavailable' },
        ),
      );
    };
    body.on('error', onError);
    // The body may have failed before these listeners were attached (while the blob cache prepared its copy): its
    // 'error' is gone, and no 'end' will come.
    const early: unknown = body.errored;
    if (early instanceof Error) onError(early);
    else if (early !== null && early !== undefined) onError(new Error('the upstream body failed'));
    body.on('end', () => {
      if (finished) return;
      if (blob.size !== undefined && bytes !== blob.size) {
        fail(
          new SigwardError(
            'UPSTREAM_INVALID',
            `upstream sent ${bytes} bytes for blob ${digest}, announced ${blob.size}`,
          ),
        );
        return;
      }
      const complete = (): void => {
        finished = true;
        started = true;
        tap?.keep();
        sink.end(held, () => resolve({ bytes, verified: verify }));
      };
      if (!hash) return complete();
      const got = `${alg}:${hash.digest('hex')}`;
      if (got !== digest) {
        const outcome = started ? 'the transfer to the client was cut before its last bytes' : 'nothing was served';
        const err = new SigwardError(
          'UPSTREAM_DIGEST_MISMATCH',
          `upstream sent bytes for blob ${digest} that hash to ${got}; ${outcome}`,
          { reason: 'upstream digest mismatch' },
        );
        onMismatch(err);
        fail(err);
        return;
      }
      complete();
    });
  });
}
