// The one place where answers become writes on node's ServerResponse: the services below return answers
// (proxy/answer.ts) and throw SigwardError; this writes both. Straight to node's response, no web Response objects:
// that is the fast path for bytes (web Response objects measured slower here), and the only way to set a custom
// HTTP reason phrase.
import type { ServerResponse } from 'node:http';
import type { SigwardError } from '../errors.ts';
import type { Answer, BodySink, DecisionNote, FileAnswer } from '../proxy/answer.ts';
import { errorResponse } from './respond.ts';
import type { ByteCounter } from '../metrics/observers.ts';

/** Write an answer. HEAD gets the status and headers without a body. Resolves once a streamed body is out (or the
 * client left); rejects when it failed, for writeError: a failure before the status line is still an OCI error.
 * `served` counts the body bytes written (metrics). */
export function writeAnswer(
  res: ServerResponse,
  a: Answer,
  method: string,
  served?: ByteCounter,
): void | Promise<void> {
  const shown = a.decision === undefined ? undefined : decisionHeaders(a.decision);
  const headers = shown === undefined ? a.headers : { ...a.headers, ...shown };
  switch (a.kind) {
    case 'bytes':
      res.writeHead(a.status, headers);
      res.end(method === 'HEAD' ? undefined : a.body);
      if (served !== undefined && method !== 'HEAD' && a.body !== undefined) served.add(a.body.length);
      return;
    case 'stream':
      return a.relay(responseSink(res, a.status, headers, served));
    case 'file':
      return sendFile(res, a, headers, served);
  }
}

/** Write an OCI error answer. HEAD gets the same status and headers with no body (clients then GET for the body). */
export function writeError(res: ServerResponse, err: SigwardError, method: string): void {
  if (res.headersSent) {
    // Mid-body failure: the only honest signal left is to cut the connection so the client sees a broken body.
    res.destroy(err);
    return;
  }
  const { status, reason, body, headers } = errorResponse(err);
  const payload = Buffer.from(JSON.stringify(body));
  headers['Content-Length'] = String(payload.length);
  if (reason) res.writeHead(status, reason, headers);
  else res.writeHead(status, headers);
  res.end(method === 'HEAD' ? undefined : payload);
}

/** The policy decision as headers: warn mode's Warning (RFC 7234 code 299) when it would have refused, and for sget
 * and /v2/ manifests which policy let it through. Undefined when there is nothing to show. */
export function decisionHeaders(note: DecisionNote): Record<string, string> | undefined {
  const d = note.decision;
  if (!note.named && !d.wouldDeny) return undefined;
  // A cached verdict hands every pull the same (frozen) decision: its headers are built once.
  const memo = note.named ? namedHeaders : warningHeaders;
  let h = memo.get(d);
  if (h === undefined) memo.set(d, (h = buildDecisionHeaders(note)));
  return h;
}

const namedHeaders = new WeakMap<DecisionNote['decision'], Readonly<Record<string, string>>>();
const warningHeaders = new WeakMap<DecisionNote['decision'], Readonly<Record<string, string>>>();

function buildDecisionHeaders(note: DecisionNote): Record<string, string> {
  const d = note.decision;
  const h: Record<string, string> = {};
  if (note.named) {
    h['X-Sigward-Policy'] = d.policyName.replace(/[^\x20-\x7e]/g, '?');
    h['X-Sigward-Outcome'] = d.outcome;
    if (d.signers.length > 0) h['X-Sigward-Signers'] = d.signers.join(', ').replace(/[^\x20-\x7e]/g, '?');
  }
  if (d.wouldDeny) {
    h.Warning = `299 sigward "${d.summary.replace(/["\\]/g, "'")}"`;
    h['X-Sigward-Would-Deny'] = d.outcome;
  }
  return h;
}

/** The status line and headers go out with the first chunk, so a relay that fails before any byte leaves the
 * response untouched for writeError. */
function responseSink(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  served: ByteCounter | undefined,
): BodySink {
  let started = false;
  const start = (): void => {
    if (started) return;
    started = true;
    res.writeHead(status, headers);
  };
  return {
    write(chunk) {
      start();
      served?.add(chunk.length);
      return res.write(chunk);
    },
    end(last, done) {
      start();
      if (last !== undefined) served?.add(last.length);
      res.end(last, done);
    },
    cut(err) {
      res.destroy(err);
    },
    get full() {
      return res.writableNeedDrain;
    },
    onDrain(fn) {
      res.on('drain', fn);
    },
    onClose(fn) {
      res.on('close', fn);
    },
  };
}

/** Stream a verified file (or one byte range of it) and close it. A client that goes away ends the transfer
 * quietly; a read failure after the status line cuts the connection (writeError). */
async function sendFile(
  res: ServerResponse,
  a: FileAnswer,
  headers: Record<string, string>,
  served: ByteCounter | undefined,
): Promise<void> {
  res.writeHead(a.status, headers);
  const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
  let sent = 0;
  try {
    if (a.end >= a.start) sent = await copyRange(a, res, closed);
    if (!res.destroyed) await Promise.race([new Promise<void>((resolve) => res.end(resolve)), closed]);
  } finally {
    served?.add(sent);
    await a.fh.close().catch(() => undefined);
  }
}

/** Bytes read from a file per write; two such buffers per response, reused, are all it holds. */
const FILE_CHUNK = 512 * 1024;
/** Buffer pairs of file sends that finished with every write flushed, for the next sends: a warm blob or sget download
 * then allocates nothing, and no 1 MiB per response waits for a full garbage collection to be given back. At most
 * this many pairs are kept (4 MiB). */
const SPARE_PAIRS = 4;
const spare: Buffer[][] = [];

/** Copy bytes start..end of the file into the response through two reused buffers: one is read into while the other
 * is being written, and a buffer is read into again only once its last write was flushed (its callback), so memory
 * stays at two chunks per response however slow the client. Resolves with the bytes handed over; early (quietly)
 * when the client went away; rejects when the file cannot be read. */
async function copyRange(a: FileAnswer, res: ServerResponse, closed: Promise<void>): Promise<number> {
  // A small file or range gets buffers of its own size, not two full chunks.
  const size = Math.max(1, Math.min(FILE_CHUNK, a.end - a.start + 1));
  const buffers = (size === FILE_CHUNK ? spare.pop() : undefined) ?? [
    Buffer.allocUnsafe(size),
    Buffer.allocUnsafe(size),
  ];
  const flushed: (Promise<void> | undefined)[] = [undefined, undefined];
  let gone = false;
  void closed.then(() => (gone = true));
  let pos = a.start;
  let sent = 0;
  for (let i = 0; pos <= a.end; i ^= 1) {
    const pending = flushed[i];
    if (pending !== undefined) await Promise.race([pending, closed]);
    if (gone || res.destroyed) return sent;
    const buf = buffers[i] as Buffer;
    const { bytesRead } = await a.fh.read(buf, 0, Math.min(size, a.end - pos + 1), pos);
    if (bytesRead === 0) throw new Error(`the file ended at byte ${pos}, before byte ${a.end} it was to send`);
    if (gone || res.destroyed) return sent;
    pos += bytesRead;
    sent += bytesRead;
    flushed[i] = new Promise<void>((resolve) => res.write(buf.subarray(0, bytesRead), () => resolve()));
  }
  // Only a pair whose every write was flushed may be handed on: after an early close a write may still hold one.
  const done = await Promise.race([Promise.all(flushed.map((p) => p ?? Promise.resolve())).then(() => true), closed]);
  if (done === true && !gone && !res.destroyed && size === FILE_CHUNK && spare.length < SPARE_PAIRS)
    spare.push(buffers);
  return sent;
}
