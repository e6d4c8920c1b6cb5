// `sigward audit verify`: the chain of audit log files, oldest first. Pure: the caller reads the files.
import { sha256Hex } from './log.ts';

export interface AuditFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

export type ChainResult =
  | { readonly ok: true; readonly lines: number; readonly firstSeq?: number; readonly lastSeq?: number }
  | { readonly ok: false; readonly file: string; readonly line: number; readonly problem: string };

/** Check every line: JSON with an integer seq and a 64-hex prev (else "bad JSON"), seq one more than the line before
 * (else "seq gap"), prev the sha256 of the line before, its `\n` included (else "prev mismatch"). The first line
 * given is the chain's anchor: its seq and prev are taken as they are (the lines before it may have been rotated
 * away). The FIRST broken line is reported: a line changed in place but still valid JSON passes itself, so the line
 * after it is the one reported (prev mismatch). */
export function verifyChain(files: readonly AuditFile[]): ChainResult {
  let lines = 0;
  let firstSeq: number | undefined;
  let lastSeq: number | undefined;
  let prevHash: string | undefined;
  for (const f of files) {
    const buf = Buffer.from(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength);
    let start = 0;
    let n = 0;
    while (start < buf.length) {
      n++;
      const nl = buf.indexOf(0x0a, start);
      const bad = (problem: string): ChainResult => ({ ok: false, file: f.name, line: n, problem });
      if (nl < 0) return bad('torn line: the file does not end with a newline');
      const raw = buf.subarray(start, nl + 1);
      start = nl + 1;
      let entry: unknown;
      try {
        entry = JSON.parse(raw.toString('utf8'));
      } catch (e) {
        return bad(`bad JSON: ${e instanceof Error ? e.message : String(e)}`);
      }
      const o = entry as { seq?: unknown; prev?: unknown } | null;
      if (o === null || typeof o !== 'object' || Array.isArray(o))
        return bad('bad JSON: the line is not a JSON object');
      if (typeof o.seq !== 'number' || !Number.isSafeInteger(o.seq)) return bad('bad JSON: no integer seq');
      if (typeof o.prev !== 'string' || !/^[0-9a-f]{64}$/.test(o.prev)) return bad('bad JSON: no prev (64 hex digits)');
      if (lastSeq !== undefined && o.seq !== lastSeq + 1)
        return bad(
          `seq gap: seq ${o.seq} where ${lastSeq + 1} was expected (a line removed, added or out of order before it)`,
        );
      if (prevHash !== undefined && o.prev !== prevHash)
        return bad(
          `prev mismatch: prev ${o.prev.slice(0, 16)}… is not the sha256 of the line before it (${prevHash.slice(0, 16)}…): that line was changed`,
        );
      firstSeq ??= o.seq;
      lastSeq = o.seq;
      prevHash = sha256Hex(raw);
      lines++;
    }
  }
  return {
    ok: true,
    lines,
    ...(firstSeq !== undefined ? { firstSeq } : {}),
    ...(lastSeq !== undefined ? { lastSeq } : {}),
  };
}
