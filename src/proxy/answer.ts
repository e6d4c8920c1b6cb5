// What the services hand back instead of writing HTTP (proxy/service.ts for /v2/, sget/service.ts for /sget/):
// http/answer.ts is the one module that turns an answer into writes on node's response. Refusals are thrown as
// SigwardError, as everywhere; what a service learned before answering or refusing goes into RequestNotes, because a
// thrown refusal cannot carry it and the access line still needs the digest and the outcome.
import type { FileHandle } from 'node:fs/promises';
import { SigwardError, type ErrorCode, type ErrorOptions } from '../errors.ts';
import type { Decision } from '../policy/types.ts';

export const API_VERSION_HEADER = { 'Docker-Distribution-API-Version': 'registry/2.0' } as const;

/** One request as the services see it: its id for their log lines, and what they learned for the access line. */
export interface RequestNotes {
  readonly id: string;
  digest?: string;
  /** Free-form outcome for the access line: `verified`, `attachment`, `no-valid-signature`… */
  outcome?: string;
  /** Set when the request ended in an error (also one found after the status line went out). */
  error?: SigwardError;
}

/** The policy decision an answer is given under; http/answer.ts shows it as headers: a Warning when warn mode lets
 * through what it would refuse, and with `named` (sget, /v2/ manifests) also the policy, outcome and signers. */
export interface DecisionNote {
  readonly decision: Decision;
  readonly named: boolean;
}

interface AnswerHead {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly decision?: DecisionNote;
}

/** Bytes held in memory (manifests, lists, HEAD answers). A HEAD request never gets the body. */
export interface BytesAnswer extends AnswerHead {
  readonly kind: 'bytes';
  readonly body?: Uint8Array;
}

/** Where a streamed body goes (implemented over node's response by http/answer.ts). The status line and headers go
 * out with the first write or end, so a failure before any byte can still be answered with an OCI error. */
export interface BodySink {
  /** False: the client cannot take more now; wait for onDrain. */
  write(chunk: Buffer): boolean;
  /** The last chunk (if any), then the end; `done` once it is handed over. */
  end(last: Buffer | undefined, done: () => void): void;
  /** Cut the connection: after the status line, the only honest signal that the body is bad. */
  cut(err: Error): void;
  readonly full: boolean;
  onDrain(fn: () => void): void;
  /** The answer is over: finished, or the client went away. */
  onClose(fn: () => void): void;
}

/** A body relayed while it arrives (upstream blobs): `relay` checks it on the way (proxy/blobs.ts). Resolves when
 * it is sent or the client left; rejects on a failure, having cut the sink if bytes had already gone out. */
export interface StreamAnswer extends AnswerHead {
  readonly kind: 'stream';
  relay(sink: BodySink): Promise<void>;
}

/** A verified file, or the bytes start..end (inclusive) of it; end < start is an empty body. The writer owns `fh`. */
export interface FileAnswer extends AnswerHead {
  readonly kind: 'file';
  readonly fh: FileHandle;
  readonly start: number;
  readonly end: number;
}

export type Answer = BytesAnswer | StreamAnswer | FileAnswer;

/** A refusal whose answer needs headers of its own: a 416 names the size in Content-Range (RFC 9110 §15.5.17). */
export class RefusalWithHeaders extends SigwardError {
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message: string, headers: Record<string, string>, opts: ErrorOptions = {}) {
    super(code, message, opts);
    this.headers = headers;
  }
}
