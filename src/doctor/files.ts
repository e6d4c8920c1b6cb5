// Reading the runtimes' files for sigward doctor: a missing file is "absent", a file that cannot be read or parsed is
// "unreadable" with the reason (reported as a finding, never thrown).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { parseToml, type TomlTable } from './toml.ts';

export type Read<T> =
  | { readonly kind: 'absent' }
  | { readonly kind: 'unreadable'; readonly reason: string }
  | { readonly kind: 'ok'; readonly value: T };

function readText(file: string): Read<string> {
  try {
    return { kind: 'ok', value: readFileSync(file, 'utf8') };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'absent' };
    return { kind: 'unreadable', reason: e instanceof Error ? e.message : String(e) };
  }
}

export function readToml(file: string): Read<TomlTable> {
  const text = readText(file);
  if (text.kind !== 'ok') return text;
  try {
    return { kind: 'ok', value: parseToml(text.value) };
  } catch (e) {
    return { kind: 'unreadable', reason: `not TOML sigward doctor can read: ${(e as Error).message}` };
  }
}

export function readJson(file: string): Read<unknown> {
  const text = readText(file);
  if (text.kind !== 'ok') return text;
  try {
    return { kind: 'ok', value: JSON.parse(text.value) as unknown };
  } catch (e) {
    return { kind: 'unreadable', reason: `not JSON: ${(e as Error).message}` };
  }
}

export function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** `*.conf` files of a drop-in directory in name order (as containers/image reads them); none if it is missing. */
export function dropIns(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => n.endsWith('.conf'))
      .sort()
      .map((n) => `${dir}/${n}`);
  } catch {
    return [];
  }
}
