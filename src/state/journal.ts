// The sealed journal of the state kept across restarts: one JSON record per line, each preceded by its HMAC-SHA256
// under the sget store's seal key (sget/seal.ts: the same key, another domain string), so a line sigward did not
// write, or one changed since, is never believed. Lines are appended in batches; a crash leaves at most one torn
// line at the end, which reading skips (the next rewrite drops it). The file is rewritten whole (temp file, fsync,
// rename, fsync of the directory) when it holds mostly superseded lines, or held lines that did not check out.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { appendFile, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { syncDir } from '../layout/write.ts';

const DOMAIN = 'sigward-state-v1\n';
const MAC_HEX = 64;

function mac(key: Buffer, json: string): Buffer {
  return createHmac('sha256', key).update(DOMAIN).update(json).digest();
}

/** One record as a sealed line (`<mac hex> <json>\n`). */
export function sealLine(key: Buffer, record: object): string {
  const json = JSON.stringify(record);
  return `${mac(key, json).toString('hex')} ${json}\n`;
}

/** The record of one sealed line, or undefined when its seal or its JSON does not check out. */
export function openLine(key: Buffer, line: string): Record<string, unknown> | undefined {
  if (line.length <= MAC_HEX + 1 || line[MAC_HEX] !== ' ') return undefined;
  const got = Buffer.from(line.slice(0, MAC_HEX), 'hex');
  const json = line.slice(MAC_HEX + 1);
  const want = mac(key, json);
  if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
  try {
    const o: unknown = JSON.parse(json);
    return typeof o === 'object' && o !== null && !Array.isArray(o) ? (o as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export interface JournalRead {
  readonly records: Record<string, unknown>[];
  /** Lines whose seal or JSON did not check out (tampered, foreign, or written under another key). */
  readonly rejected: number;
  /** A last line without its newline: a write cut short by a crash. */
  readonly torn: boolean;
  readonly lines: number;
}

/** Read the journal; a missing file is an empty one. Other read errors are thrown. */
export async function readJournal(file: string, key: Buffer): Promise<JournalRead> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], rejected: 0, torn: false, lines: 0 };
    throw e;
  }
  const lines = text.split('\n');
  const tail = lines.pop() ?? '';
  const records: Record<string, unknown>[] = [];
  let rejected = 0;
  for (const line of lines) {
    const r = openLine(key, line);
    if (r === undefined) rejected++;
    else records.push(r);
  }
  return { records, rejected, torn: tail !== '', lines: lines.length };
}

export function appendLines(file: string, lines: readonly string[]): Promise<void> {
  return appendFile(file, lines.join(''), { mode: 0o600 });
}

/** Replace the journal with these lines, so that a crash (of the process or of the machine) leaves the old file or
 * the new one, whole: the temp file is written and made durable (fsync) before it is renamed over the journal, and
 * the directory is made durable after, so the rename itself survives a power loss. Without the first fsync a file
 * system may persist the rename before the data: the journal would come back empty or torn. */
export async function rewriteJournal(file: string, lines: readonly string[]): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(lines.join(''));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  await syncDir(dirname(file));
}
