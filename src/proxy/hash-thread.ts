// Hashing big sget downloads on a second core. Passing a blob through node costs one core for the sockets alone, and
// sha256 on top of that (about 0.6 core-seconds per GB here) would halve the throughput; so sget's spool
// (sget/spool.ts) hands the batches it filled and wrote to one worker thread (transferred, not cloned, and handed
// back for reuse), which hashes them in order: `batchHasher`. The /v2/ blob relay does not use it: it hashes on the
// main thread (proxy/blobs.ts says why). If the worker dies, every open digest rejects (fail closed) and the next
// stream starts anew.
import { Worker } from 'node:worker_threads';
import { SigwardError } from '../errors.ts';

export type HashAlgorithm = 'sha256' | 'sha512';

/** sget downloads at least this large (or of unknown size) are hashed on the worker; smaller ones inline. */
export const OFF_THREAD_MIN_BYTES = 4 * 1024 * 1024;

/** The worker's whole program (plain CommonJS, evaluated: no file to resolve under tsx, dist or a bundle). */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const open = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'data') {
    let h = open.get(m.id);
    if (h === undefined) open.set(m.id, (h = createHash(m.alg)));
    h.update(new Uint8Array(m.buf, 0, m.len));
    parentPort.postMessage({ op: 'ack', id: m.id, buf: m.buf }, [m.buf]);
  } else if (m.op === 'end') {
    const h = open.get(m.id) ?? createHash(m.alg);
    open.delete(m.id);
    parentPort.postMessage({ op: 'digest', id: m.id, hex: h.digest('hex') });
  } else if (m.op === 'drop') {
    open.delete(m.id);
  }
});
`;

interface Reply {
  readonly op: 'ack' | 'digest';
  readonly id: number;
  readonly buf?: ArrayBuffer;
  readonly hex?: string;
}

interface Session {
  ack(buf: ArrayBuffer): void;
  done(hex: string): void;
  fail(err: Error): void;
}

/** The one hashing worker of the process, started on first use, restarted after a failure. */
export class HashThread {
  private worker: Worker | undefined;
  private readonly sessions = new Map<number, Session>();
  private nextId = 1;

  /** Streams whose digest is still owed (hashing, or waiting for the worker's answer). */
  get openStreams(): number {
    return this.sessions.size;
  }

  /** Stop the worker (shutdown); open digests reject. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.failAll(new SigwardError('INTERNAL', 'the hashing thread was stopped (shutdown)'));
    await w?.terminate();
  }

  /** @internal */
  open(session: Session): number {
    const id = this.nextId++;
    this.sessions.set(id, session);
    return id;
  }

  /**
   * A hasher that takes whole batches its caller already filled and used (sget's spool writes each to its file first):
   * each is transferred to the worker and handed back when hashed, so nothing is copied for hashing and the caller's
   * pool of batches bounds the memory. Whether a stream is big enough to be worth the round trips is the caller's
   * call (a small one is better hashed inline).
   */
  batchHasher(algorithm: HashAlgorithm): BatchHasher {
    return new WorkerBatchHasher(this, algorithm);
  }

  /** @internal */
  post(message: {
    op: 'data' | 'end' | 'drop';
    id: number;
    alg?: HashAlgorithm;
    buf?: ArrayBuffer;
    len?: number;
  }): void {
    const w = this.ensureWorker();
    if (message.buf !== undefined) w.postMessage(message, [message.buf]);
    else w.postMessage(message);
    if (message.op === 'drop') this.sessions.delete(message.id);
  }

  private ensureWorker(): Worker {
    if (this.worker !== undefined) return this.worker;
    const w = new Worker(WORKER_SOURCE, { eval: true, name: 'sigward-hash' });
    w.unref();
    w.on('message', (r: Reply) => {
      const s = this.sessions.get(r.id);
      if (s === undefined) return;
      if (r.op === 'ack' && r.buf !== undefined) s.ack(r.buf);
      else if (r.op === 'digest' && r.hex !== undefined) {
        this.sessions.delete(r.id);
        s.done(r.hex);
      }
    });
    const lost = (why: string): void => {
      if (this.worker !== w) return;
      this.worker = undefined;
      this.failAll(
        new SigwardError(
          'INTERNAL',
          `the hashing thread failed (${why}); the transfers it was checking were cut, nothing unchecked was served`,
        ),
      );
    };
    // A worker can throw anything, not only an Error.
    w.on('error', (e: unknown) => lost(e instanceof Error ? e.message : String(e)));
    w.on('exit', (code) => lost(`exit code ${code}`));
    this.worker = w;
    return w;
  }

  private failAll(err: Error): void {
    const open = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of open) s.fail(err);
  }
}

/** Hashes batches in order on the worker (HashThread.batchHasher). */
export interface BatchHasher {
  /** Hash the first `len` bytes of `buf`, which is transferred (detached here) until `back` hands it back. */
  take(buf: ArrayBuffer, len: number, back: (buf: ArrayBuffer) => void): void;
  /** Told once if the worker fails: batches still out never come back. */
  onFail(cb: (err: Error) => void): void;
  /** Hex digest of every batch taken; rejects when the worker failed. Call once, after the last `take`. */
  digest(): Promise<string>;
  /** Forget the stream: the worker drops its state; batches still out are not handed back. */
  abandon(): void;
}

class WorkerBatchHasher implements BatchHasher {
  private readonly id: number;
  private readonly backs: ((buf: ArrayBuffer) => void)[] = [];
  private state: 'open' | 'ended' | 'failed' = 'open';
  private failed: Error | undefined;
  private failCb: ((err: Error) => void) | undefined;
  private settle: { resolve: (hex: string) => void; reject: (e: Error) => void } | undefined;

  constructor(
    private readonly thread: HashThread,
    private readonly alg: HashAlgorithm,
  ) {
    this.id = thread.open({
      ack: (buf) => this.backs.shift()?.(buf),
      done: (hex) => this.settle?.resolve(hex),
      fail: (err) => {
        if (this.state === 'failed') return;
        this.state = 'failed';
        this.failed = err;
        this.backs.length = 0;
        this.settle?.reject(err);
        this.failCb?.(err);
      },
    });
  }

  take(buf: ArrayBuffer, len: number, back: (buf: ArrayBuffer) => void): void {
    if (this.state !== 'open') return;
    this.backs.push(back);
    this.thread.post({ op: 'data', id: this.id, alg: this.alg, buf, len });
  }

  onFail(cb: (err: Error) => void): void {
    this.failCb = cb;
  }

  digest(): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      if (this.state !== 'open') {
        reject(this.failed ?? new SigwardError('INTERNAL', 'hash abandoned'));
        return;
      }
      this.state = 'ended';
      this.settle = { resolve, reject };
      this.thread.post({ op: 'end', id: this.id, alg: this.alg });
    });
  }

  abandon(): void {
    if (this.state === 'failed') return;
    this.state = 'failed';
    this.failed = new SigwardError('INTERNAL', 'hash abandoned');
    this.backs.length = 0;
    this.thread.post({ op: 'drop', id: this.id });
    this.settle?.reject(this.failed);
  }
}
