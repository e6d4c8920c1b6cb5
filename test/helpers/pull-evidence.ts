// What a pull left behind, read from the outside: the daemon's access lines (what sigward answered) and the files
// in a runtime's storage (what the runtime kept). Used to prove that a refused image left nothing a runtime could run.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface AccessLine {
  reqId: string;
  method: string;
  path: string;
  status: number;
  /** The OCI error code of a refused request. */
  code?: string;
  /** The gate's outcome (`attachment`, `verified`, `no-signatures`…). */
  outcome?: string;
  error?: string;
}

/** Every access line (pino JSON, msg "request") the daemon wrote to `logFile` so far. */
export function readAccessLines(logFile: string): AccessLine[] {
  const out: AccessLine[] = [];
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as AccessLine & { msg?: string };
    if (entry.msg === 'request') out.push(entry);
  }
  return out;
}

/** The access lines from index `from` on, up to one for a request made now. The daemon's log is written
 * asynchronously, so the line of a request a client already has its answer to may not be in the file yet; the line
 * of a later request is written after it, so once that one is there, so is every line before it. */
export async function settledAccessLines(sigwardUrl: string, logFile: string, from = 0): Promise<AccessLine[]> {
  const mark = `/v2/?settled=${randomUUID()}`;
  const res = await fetch(`${sigwardUrl}${mark}`);
  await res.arrayBuffer();
  for (const deadline = Date.now() + 15_000; ;) {
    const lines = readAccessLines(logFile);
    const at = lines.findIndex((l, i) => i >= from && l.path === mark);
    if (at >= 0) return lines.slice(from, at);
    if (Date.now() > deadline) throw new Error(`the daemon never logged ${mark} in ${logFile}`);
    await sleep(10); // a poll for a condition, with a deadline
  }
}

/** Paths of every file or directory under `root` whose name is one of `names`. Symbolic links are not followed;
 * entries that vanish while the walk runs (a runtime's temp files) are passed over. */
export function findNamed(root: string, names: ReadonlySet<string>): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (names.has(e.name)) found.push(p);
      if (e.isDirectory()) walk(p);
    }
  };
  if (names.has(basename(root))) found.push(root);
  walk(root);
  return found;
}
