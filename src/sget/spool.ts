// Spool, check, commit: an upstream blob is written to a temporary file in the store while it is counted and
// hashed, with backpressure; only when its size and digest match is it handed to the store (which serves it at once
// and makes it durable and sealed in the background: store.ts). On any failure the temporary file is removed and
// nothing is served. A spool belongs to no client: the caller runs it once per digest (single-flight), and a client
// that goes away does not stop it.
// The bytes are copied into a few reused batches (so the upstream's chunks die young and memory stays flat), each
// batch is written to the file in one positional write (two in flight), then, for a big blob, handed to the hashing
// thread in file order and back (no copy for hashing, and the main thread never waits on it while a batch is free); a
// small blob is hashed inline as it comes.
import { createHash, type Hash } from 'node:crypto';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { SigwardError } from '../errors.ts';
import { release as releaseBody } from '../upstream/body.ts';
import { digestAlgorithm, type Digest } from '../oci/digest.ts';
import { OFF_THREAD_MIN_BYTES, type BatchHasher, type HashThread } from '../proxy/hash-thread.ts';
import type { Logger } from '../log.ts';
import type { BlobStream } from '../proxy/types.ts';
import { errnoOf, storeError } from './fs-errors.ts';
import type { BlobStore } from './store.ts';

/** One write into the spool file; the batches of one download are BATCHES of these. */
export const BATCH_BYTES = 1024 * 1024;
export const BATCHES = 4;
/** Writes in flight at once (each at its own offset). */
export const WRITES = 2;

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
  readonly hashing: Pick<HashThread, 'batchHasher'>;
  /** Settles once the requests waiting for this download opened the file (store.commit): until then a failed
   * durability step does not remove it. */
  readonly handedOver?: Promise<void>;
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
  let fh: FileHandle | undefined;
  let batches: BatchHasher | undefined;
  let writer: SpoolWriter | undefined;
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
    const alg = digestAlgorithm(r.digest);
    fh = await open(tmp, 'wx', 0o600);
    const inline = expect !== undefined && expect < OFF_THREAD_MIN_BYTES ? createHash(alg) : undefined;
    batches = inline === undefined ? r.hashing.batchHasher(alg) : undefined;
    writer = new SpoolWriter(blob.body, fh, cap, inline, batches);
    const outcome = await writer.done;
    if (outcome.kind === 'hash') throw outcome.error;
    if (outcome.kind === 'sink') throw storeError(outcome.error, `writing ${r.digest} to the store`, store.dir);
    if (outcome.kind === 'source') {
      if (outcome.error instanceof SigwardError) throw outcome.error;
      throw upstreamBroke(outcome.error, r, writer.received);
    }
    if (outcome.kind === 'over') {
      throw expect === undefined
        ? tooLarge(r.where, r.digest, writer.received, r.maxBytes)
        : new SigwardError(
            'UPSTREAM_INVALID',
            `upstream sent more than the ${expect} bytes of ${r.where}@${r.digest}; nothing was served`,
            { reason: 'upstream sent too many bytes' },
          );
    }
    const bytes = writer.received;
    if (expect !== undefined && bytes !== expect) {
      throw new SigwardError(
        'UPSTREAM_INVALID',
        `upstream sent ${bytes} of the ${expect} bytes of ${r.where}@${r.digest} and stopped; nothing was served`,
        {
          reason: 'upstream sent a truncated blob',
        },
      );
    }
    const hex = inline !== undefined ? inline.digest('hex') : await must(batches).digest();
    batches = undefined;
    const got = `${alg}:${hex}` as Digest;
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
    await fh.chmod(0o400);
    await fh.close();
    fh = undefined;
    // The reservation ends as the file enters the store's own accounting (not after: that would count it twice).
    release();
    release = undefined;
    await store.commit(tmp, r.digest, bytes, r.handedOver);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    log.info(
      {
        image: r.where,
        digest: r.digest,
        size: bytes,
        ms: Math.round(ms),
        mbps: Math.round(bytes / 1e3 / Math.max(ms, 1)),
      },
      'sget download verified and stored',
    );
  } catch (e) {
    batches?.abandon(); // a failure before the digest was asked for (e.g. a short body) must not leave it open
    // Bodies given up before their last byte (a size that disagrees, no room in the store) error when destroyed:
    // releaseBody takes that error, which with no listener would end the daemon.
    if (blob !== undefined) releaseBody(blob.body);
    await writer?.idle();
    await fh?.close().catch(() => undefined);
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

function must<T>(x: T | undefined): T {
  if (x === undefined) throw new SigwardError('INTERNAL', 'a big download lost its hasher');
  return x;
}

export type WriteOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'over' }
  | { readonly kind: 'source'; readonly error: unknown }
  | { readonly kind: 'sink'; readonly error: unknown }
  | { readonly kind: 'hash'; readonly error: Error };

/**
 * Copies a body into `fh` from offset 0 through BATCHES reused batches of BATCH_BYTES. A full batch is written at its
 * own offset at once, up to WRITES writes in flight: the next write is already queued in the thread pool while the
 * main thread is busy with the socket, so the file system is never left waiting for it. Written batches go to
 * `batches` in file order (the digest is of the bytes in order) and come back from there, or are reused at once when
 * the blob is hashed inline (`hash`). The body is paused while no batch is free. `done` says how it ended, and which
 * side broke first (the first failure decides the message). Exported for its unit test only.
 */
export class SpoolWriter {
  received = 0;
  readonly done: Promise<WriteOutcome>;
  private readonly free: ArrayBuffer[] = [];
  private allocated = 0;
  private current: { ab: ArrayBuffer; buf: Buffer } | undefined;
  private fill = 0;
  /** Batches filled and waiting for their write, in file order. */
  private readonly filled: { ab: ArrayBuffer; len: number }[] = [];
  /** Batches whose write started, in file order, until they are handed to the hasher (or reused). */
  private readonly ordered: { ab: ArrayBuffer; len: number; written: boolean }[] = [];
  /** What is left of the last chunk while no batch is free (the body is paused meanwhile). */
  private rest: Buffer | undefined;
  private readonly writing = new Set<Promise<void>>();
  /** The file offset the next write starts at. */
  private offset = 0;
  private ended = false;
  private settle!: (o: WriteOutcome) => void;
  private settled = false;

  constructor(
    private readonly body: Readable,
    private readonly fh: FileHandle,
    private readonly cap: number,
    private readonly hash: Hash | undefined,
    private readonly batches: BatchHasher | undefined,
  ) {
    this.done = new Promise((resolve) => (this.settle = resolve));
    batches?.onFail((error) => this.finish({ kind: 'hash', error }));
    // An error the body had before this writer began is only on the stream itself.
    const early: unknown = body.errored;
    if (early !== null && early !== undefined) {
      this.finish({ kind: 'source', error: early });
      return;
    }
    body.on('data', this.onData);
    body.once('end', this.onEnd);
    body.once('error', this.onError);
  }

  /** Resolves once no write is in flight (before the file is closed and removed after a failure). */
  async idle(): Promise<void> {
    while (this.writing.size > 0) await Promise.allSettled([...this.writing]);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.settled) return;
    this.received += chunk.length;
    if (this.received > this.cap) {
      this.finish({ kind: 'over' });
      return;
    }
    this.hash?.update(chunk);
    this.rest = chunk;
    this.copy();
    if (this.rest !== undefined) this.body.pause();
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    this.flush();
  };

  private readonly onError = (e: unknown): void => this.finish({ kind: 'source', error: e });

  /** Copy what is left of the last chunk into batches while one is free; then write what is full. */
  private copy(): void {
    while (this.rest !== undefined) {
      const batch = this.batch();
      if (batch === undefined) break;
      const n = Math.min(this.rest.length, batch.length - this.fill);
      this.rest.copy(batch, this.fill, 0, n);
      this.fill += n;
      this.rest = n === this.rest.length ? undefined : this.rest.subarray(n);
      if (this.fill === batch.length) this.seal();
    }
    this.flush();
  }

  private batch(): Buffer | undefined {
    if (this.current !== undefined) return this.current.buf;
    const ab =
      this.free.pop() ?? (this.allocated < BATCHES ? (this.allocated++, new ArrayBuffer(BATCH_BYTES)) : undefined);
    if (ab === undefined) return undefined;
    this.current = { ab, buf: Buffer.from(ab) };
    this.fill = 0;
    return this.current.buf;
  }

  /** The current batch is done filling: queue it for its write. */
  private seal(): void {
    if (this.current !== undefined && this.fill > 0) this.filled.push({ ab: this.current.ab, len: this.fill });
    else if (this.current !== undefined) this.free.push(this.current.ab);
    this.current = undefined;
    this.fill = 0;
  }

  /** Start the writes there is room for; settle once the body ended and every batch was written and handed on. */
  private flush(): void {
    if (this.settled) return;
    if (this.ended && this.rest === undefined) this.seal();
    while (this.writing.size < WRITES) {
      const next = this.filled.shift();
      if (next === undefined) break;
      const entry = { ...next, written: false };
      this.ordered.push(entry);
      const at = this.offset;
      this.offset += next.len;
      const w: Promise<void> = this.write(Buffer.from(next.ab), next.len, at).then(
        () => {
          this.writing.delete(w);
          entry.written = true;
          if (this.settled) return;
          this.handOn();
          this.flush();
        },
        (e: unknown) => {
          this.writing.delete(w);
          this.finish({ kind: 'sink', error: e });
        },
      );
      this.writing.add(w);
    }
    if (this.ended && this.rest === undefined && this.filled.length === 0 && this.writing.size === 0)
      this.finish({ kind: 'ok' });
  }

  /** Written batches, from the first in file order on, go to the hasher (or back to the pool when hashed inline). */
  private handOn(): void {
    while (this.ordered[0]?.written === true) {
      const b = this.ordered.shift();
      if (b === undefined) break;
      if (this.batches !== undefined) this.batches.take(b.ab, b.len, (ab) => this.give(ab));
      else this.give(b.ab);
    }
  }

  /** A batch is free again (written, and hashed when the hashing thread does it). */
  private give(ab: ArrayBuffer): void {
    if (this.settled) return;
    this.free.push(ab);
    if (this.rest === undefined) return;
    this.copy();
    if (this.rest === undefined && !this.settled) this.body.resume();
  }

  /** Write the first `len` bytes of `buf` at file offset `at` (positional: writes in flight do not depend on order). */
  private async write(buf: Buffer, len: number, at: number): Promise<void> {
    for (let done = 0; done < len;) {
      const { bytesWritten } = await this.fh.write(buf, done, len - done, at + done);
      if (bytesWritten === 0) throw new Error('the file system took none of the bytes written');
      done += bytesWritten;
    }
  }

  private finish(o: WriteOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.body.off('data', this.onData);
    this.body.off('end', this.onEnd);
    // The error listener stays: a body destroyed later (released) must not throw.
    this.rest = undefined;
    this.settle(o);
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
