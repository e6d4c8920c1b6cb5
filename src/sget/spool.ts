// Spool, check, commit: an upstream blob is written to a temporary file in the store while it is
// counted and hashed, with backpressure (stream.pipeline); only when its size and digest match is it renamed into
// the store (which then makes it durable and seals it: store.ts). On any failure the temporary file is removed and
// nothing is served. A spool belongs to no client: the caller runs it once per digest (single-flight), and a client
// that goes away does not stop it.
import { createWriteStream } from 'node:fs';
import { chmod, unlink } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { SigwardError } from '../errors.ts';
import { release as releaseBody } from '../upstream/body.ts';
import { digestAlgorithm, type Digest } from '../oci/digest.ts';
import type { HashThread, StreamHasher } from '../proxy/hash-thread.ts';
import type { Logger } from '../log.ts';
import type { BlobStream } from '../proxy/types.ts';
import { errnoOf, storeError } from './fs-errors.ts';
import { DigestingStream } from './hash.ts';
import type { BlobStore } from './store.ts';

export interface SpoolRequest {
  readonly digest: Digest;
  /** The size the manifest declares; undefined for a bare blob digest (then the upstream's Content-Length). */
  readonly size: number | undefined;
  /** sget.maxArtifactSize. */
  readonly maxBytes: number;
  /** `host/repository`, for messages. */
  readonly where: string;
  /** Start the upstream GET (no Range: the whole blob is checked). */
  readonly fetch: () => Promise<BlobStream>;
  /** Where big downloads are hashed (a second core). */
  readonly hashing: Pick<HashThread, 'hasher'>;
}

export function tooLarge(where: string, digest: Digest, size: number, max: number): SigwardError {
  return new SigwardError(
    'UPSTREAM_TOO_LARGE',
    `${where}@${digest} is ${size} bytes or more, over sget.maxArtifactSize (${max} bytes); raise it to download this artifact`,
    {
      reason: 'artifact over sget.maxArtifactSize',
      detail: { limit: max },
    },
  );
}

/** Download `r.digest` into the store. Resolves once the verified file is committed; rejects with nothing stored. */
export async function spool(store: BlobStore, r: SpoolRequest, log: Logger): Promise<void> {
  const started = process.hrtime.bigint();
  const tmp = store.tempFile();
  let release: (() => void) | undefined;
  let blob: BlobStream | undefined;
  let hasher: StreamHasher | undefined;
  let sinkError: unknown;
  try {
    // Room is made before the upstream is asked, when the manifest says how much is needed.
    if (r.size !== undefined) {
      if (r.size > r.maxBytes) throw tooLarge(r.where, r.digest, r.size, r.maxBytes);
      release = await store.reserve(r.size);
    }
    blob = await r.fetch();
    if (blob.status !== 200)
      throw new SigwardError(
        'UPSTREAM_INVALID',
        `upstream answered a whole-blob GET of ${r.where}@${r.digest} with ${blob.status}`,
      );
    if (r.size !== undefined && blob.size !== undefined && blob.size !== r.size) {
      throw new SigwardError(
        'UPSTREAM_INVALID',
        `upstream announced ${blob.size} bytes for ${r.where}@${r.digest}, whose manifest says ${r.size}; nothing was served`,
        {
          reason: 'upstream size mismatch',
        },
      );
    }
    const expect = r.size ?? blob.size;
    if (expect !== undefined && expect > r.maxBytes) throw tooLarge(r.where, r.digest, expect, r.maxBytes);
    const cap = expect ?? r.maxBytes;
    release ??= await store.reserve(cap);
    hasher = r.hashing.hasher(digestAlgorithm(r.digest), expect);
    const counted = new DigestingStream(hasher, cap, (seen) =>
      expect === undefined
        ? tooLarge(r.where, r.digest, seen, r.maxBytes)
        : new SigwardError(
            'UPSTREAM_INVALID',
            `upstream sent more than the ${expect} bytes of ${r.where}@${r.digest}; nothing was served`,
            { reason: 'upstream sent too many bytes' },
          ),
    );
    const out = createWriteStream(tmp, { flags: 'wx', mode: 0o600, highWaterMark: 1024 * 1024 });
    // Which side broke FIRST decides the message: pipeline then destroys the other streams with that same error (the
    // body with the file's ENOTDIR, or on Node 24 the file with the upstream's reset), so comparing the two errors
    // cannot tell. These listeners are attached before pipeline's own, so they see the first failure first. An error
    // the body had before the pipeline began is only on the stream itself.
    const broke: { first?: 'source' | 'sink' } = blob.body.errored ? { first: 'source' } : {};
    blob.body.once('error', () => (broke.first ??= 'source'));
    out.once('error', (e) => {
      sinkError ??= e;
      broke.first ??= 'sink';
    });
    try {
      await pipeline(blob.body, counted, out);
    } catch (e) {
      if (e instanceof SigwardError) throw e;
      if (broke.first === 'sink') throw storeError(sinkError, `writing ${r.digest} to the store`, store.dir);
      throw upstreamBroke(e, r, counted.bytes);
    }
    if (expect !== undefined && counted.bytes !== expect) {
      throw new SigwardError(
        'UPSTREAM_INVALID',
        `upstream sent ${counted.bytes} of the ${expect} bytes of ${r.where}@${r.digest} and stopped; nothing was served`,
        {
          reason: 'upstream sent a truncated blob',
        },
      );
    }
    const got = await counted.result(r.digest);
    if (got !== r.digest) {
      throw new SigwardError(
        'UPSTREAM_DIGEST_MISMATCH',
        `upstream sent bytes for ${r.where}@${r.digest} that hash to ${got}; nothing was served or stored`,
        {
          reason: 'upstream digest mismatch',
          detail: { expected: r.digest, got },
        },
      );
    }
    await chmod(tmp, 0o400);
    // The reservation ends as the file enters the store's own accounting (not after: that would count it twice).
    release();
    release = undefined;
    await store.commit(tmp, r.digest, counted.bytes);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    log.info(
      {
        image: r.where,
        digest: r.digest,
        size: counted.bytes,
        ms: Math.round(ms),
        mbps: Math.round(counted.bytes / 1e3 / Math.max(ms, 1)),
      },
      'sget download verified and stored',
    );
  } catch (e) {
    hasher?.abandon(); // a failure before the digest was asked for (e.g. a short body) must not leave it open
    // Bodies given up before their last byte (a size that disagrees, no room in the store) error when destroyed:
    // releaseBody takes that error, which with no listener would end the daemon.
    if (blob !== undefined) releaseBody(blob.body);
    await unlink(tmp).catch(() => undefined);
    const err = storeError(e, `storing ${r.digest}`, store.dir);
    log.warn(
      { image: r.where, digest: r.digest, code: err.code, err: err.message },
      'sget download failed; nothing stored',
    );
    throw err;
  } finally {
    release?.();
  }
}

function upstreamBroke(e: unknown, r: SpoolRequest, bytes: number): SigwardError {
  const code = errnoOf(e);
  const why =
    code === 'UND_ERR_BODY_TIMEOUT'
      ? 'it went silent for longer than its timeouts.body'
      : `the connection broke (${code ?? (e as Error).message})`;
  return new SigwardError(
    'UPSTREAM_UNAVAILABLE',
    `upstream stopped sending ${r.where}@${r.digest} after ${bytes} bytes: ${why}; nothing was served, try again later`,
    {
      cause: e,
      reason: 'upstream broke off the download',
    },
  );
}
