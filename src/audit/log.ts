// The tamper-evident decision log (config `audit`): one JSON line per verification decision, each carrying `prev`,
// the sha256 of the previous line's exact bytes (its `\n` included), so that a line changed, removed or moved breaks
// the chain at the next line (`sigward audit verify`). The chain crosses rotations: the first line of a new file
// carries the hash of the last line of the rotated one.
//
// Writes are synchronous: ONE writeSync of a whole line on a file opened O_APPEND, so a line is never interleaved
// with another and a crash leaves at most one torn line at the end (cut on the next open). A decision is a cold pull
// (a few per minute at most, never per blob), and a line is well under a kilobyte, so one small append per decision
// costs the event loop less than the verification it records, and keeps order trivially (no queue to drain at close).
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readSync,
  renameSync,
  writeSync,
  constants as fsc,
} from 'node:fs';
import { clip } from '../util/clip.ts';
import { SigwardError } from '../errors.ts';
import type { Logger } from '../log.ts';

/** `prev` of the first line of a fresh log. */
export const GENESIS = '0'.repeat(64);
const MESSAGE_MAX = 200;
const REASONS_MAX = 20;

/** One decision as the gate hands it over; the writer adds time, seq and prev. */
export interface AuditDecision {
  readonly policyHash: string;
  /** host/repository[:tag]@digest */
  readonly image: string;
  readonly digest: string;
  readonly outcome: string;
  readonly allow: boolean;
  readonly wouldDeny: boolean;
  readonly policy: string;
  readonly signers: readonly string[];
  readonly reasons: readonly {
    readonly source: string;
    readonly format: string;
    readonly counted: boolean;
    readonly reason?: string | undefined;
    readonly message?: string | undefined;
  }[];
}

/** Where the gate sends its decisions. */
export interface AuditSink {
  record(d: AuditDecision): void;
}

export interface AuditLogOptions {
  readonly file: string;
  readonly maxBytes: number;
  /** Rotated files kept (file.1 … file.keep). */
  readonly keep: number;
  readonly log?: Logger;
  /** Milliseconds since the epoch (tests inject a clock). */
  readonly now?: () => number;
}

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The last complete line of `fd` (its `\n` included), after cutting a torn tail; undefined when the file holds none. */
function lastLine(fd: number, file: string, log: Logger | undefined): Buffer | undefined {
  let size = fstatSync(fd).size;
  if (size === 0) return undefined;
  // Read backwards in chunks until the line before the last `\n` starts (or the file does).
  const CHUNK = 64 * 1024;
  let tail = Buffer.alloc(0);
  let pos = size;
  const readBack = (): boolean => {
    if (pos === 0) return false;
    const n = Math.min(CHUNK, pos);
    pos -= n;
    const b = Buffer.alloc(n);
    readSync(fd, b, 0, n, pos);
    tail = Buffer.concat([b, tail]);
    return true;
  };
  readBack();
  // A torn write (a crash mid-line): cut back to the last `\n`.
  if (tail[tail.length - 1] !== 0x0a) {
    let nl = tail.lastIndexOf(0x0a);
    while (nl < 0 && readBack()) nl = tail.lastIndexOf(0x0a);
    const keepBytes = nl < 0 ? 0 : pos + nl + 1;
    log?.warn(
      { file, cut: size - keepBytes },
      'audit log ended in a torn line (a crash while writing it): cut back to the last complete line',
    );
    ftruncateSync(fd, keepBytes);
    size = keepBytes;
    if (size === 0) return undefined;
    tail = nl < 0 ? Buffer.alloc(0) : tail.subarray(0, nl + 1);
  }
  let start = tail.lastIndexOf(0x0a, tail.length - 2);
  while (start < 0 && readBack()) start = tail.lastIndexOf(0x0a, tail.length - 2);
  return Buffer.from(tail.subarray(start + 1));
}

/** The seq of a complete line read back at start; a line that is not one of ours stops the start. */
function seqOf(line: Buffer, file: string): number {
  try {
    const seq = (JSON.parse(line.toString('utf8')) as { seq?: unknown }).seq;
    if (typeof seq === 'number' && Number.isSafeInteger(seq)) return seq;
  } catch {
    // reported below
  }
  throw new SigwardError(
    'CONFIG_INVALID',
    `audit log ${file} ends with a complete line that is not an audit entry: check it with sigward audit verify, then move the file away`,
  );
}

export class AuditLog implements AuditSink {
  private fd: number;
  private size: number;
  private seq: number;
  private prev: string;

  private constructor(
    private readonly opts: AuditLogOptions,
    state: { fd: number; size: number; seq: number; prev: string },
  ) {
    this.fd = state.fd;
    this.size = state.size;
    this.seq = state.seq;
    this.prev = state.prev;
  }

  /** Open (or create) the log and pick up its chain: the last complete line of the file, or of file.1 when the file
   * is empty (a crash right after a rotation). A torn last line is cut, with a warning. */
  static open(opts: AuditLogOptions): AuditLog {
    const fd = openSync(opts.file, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT, 0o640);
    try {
      // O_APPEND for writing; the reads and the cut go through a second descriptor opened for reading and writing.
      const rfd = openSync(opts.file, 'r+');
      let last: Buffer | undefined;
      try {
        last = lastLine(rfd, opts.file, opts.log);
      } finally {
        closeSync(rfd);
      }
      const size = fstatSync(fd).size;
      if (last === undefined && existsSync(`${opts.file}.1`)) {
        const r1 = openSync(`${opts.file}.1`, 'r+');
        try {
          last = lastLine(r1, `${opts.file}.1`, opts.log);
        } finally {
          closeSync(r1);
        }
      }
      const state =
        last === undefined
          ? { fd, size, seq: 0, prev: GENESIS }
          : { fd, size, seq: seqOf(last, opts.file) + 1, prev: sha256Hex(last) };
      return new AuditLog(opts, state);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** The seq the next line gets. */
  get nextSeq(): number {
    return this.seq;
  }

  /** Append one line (rotating first when it would take the file past maxBytes). Throws on an I/O failure. */
  record(d: AuditDecision): void {
    const entry = {
      time: new Date((this.opts.now ?? Date.now)()).toISOString(),
      seq: this.seq,
      prev: this.prev,
      policyHash: d.policyHash,
      image: clip(d.image, 600),
      digest: d.digest,
      outcome: d.outcome,
      allow: d.allow,
      wouldDeny: d.wouldDeny,
      policy: clip(d.policy, 200),
      signers: d.signers.slice(0, REASONS_MAX).map((s) => clip(s, 200)),
      reasons: d.reasons.slice(0, REASONS_MAX).map((r) => ({
        source: clip(r.source, 300),
        format: r.format,
        counted: r.counted,
        ...(r.reason !== undefined ? { reason: r.reason } : {}),
        ...(r.message !== undefined ? { message: clip(r.message, MESSAGE_MAX) } : {}),
      })),
      ...(d.reasons.length > REASONS_MAX ? { reasonsOmitted: d.reasons.length - REASONS_MAX } : {}),
    };
    const line = Buffer.from(`${JSON.stringify(entry)}\n`, 'utf8');
    if (this.size > 0 && this.size + line.length > this.opts.maxBytes) this.rotate();
    const written = writeSync(this.fd, line);
    if (written !== line.length)
      throw new Error(`audit log ${this.opts.file}: short write (${written} of ${line.length} bytes)`);
    this.size += line.length;
    this.seq += 1;
    this.prev = sha256Hex(line);
  }

  /** file.(keep-1) -> file.keep (the oldest kept is replaced), …, file -> file.1, then a fresh file. */
  private rotate(): void {
    const f = this.opts.file;
    closeSync(this.fd);
    for (let i = this.opts.keep - 1; i >= 1; i--) {
      if (existsSync(`${f}.${i}`)) renameSync(`${f}.${i}`, `${f}.${i + 1}`);
    }
    renameSync(f, `${f}.1`);
    this.fd = openSync(f, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT, 0o640);
    this.size = 0;
  }

  close(): void {
    closeSync(this.fd);
  }
}
