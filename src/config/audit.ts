// The `audit` section: the tamper-evident decision log (src/audit/log.ts). Absent: no audit log.
import { accessSync, constants as fsc, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { readInt, readObj, readSize, readString, type Problems } from '../util/yaml-reader.ts';
import type { AuditConfig } from './types.ts';

export const DEFAULT_AUDIT_MAX_BYTES = 64 * 1024 ** 2;
export const DEFAULT_AUDIT_KEEP = 5;

/** The `audit` section as written (the file path as given; load.ts resolves it against the config's directory). */
export function parseAudit(v: unknown, problems: Problems): AuditConfig | undefined {
  if (v === undefined) return undefined;
  const o = readObj(v, ['audit'], problems, ['file', 'maxSize', 'keep']);
  if (!o) return undefined;
  const file = readString(o.file, ['audit', 'file'], problems);
  if (o.file === undefined) problems.add(['audit', 'file'], 'is required: the file decisions are appended to');
  const maxBytes =
    readSize(o.maxSize, ['audit', 'maxSize'], problems, { min: 64 * 1024, max: 1024 ** 4 }) ?? DEFAULT_AUDIT_MAX_BYTES;
  const keep = readInt(o.keep, ['audit', 'keep'], problems, { min: 1, max: 1000 }) ?? DEFAULT_AUDIT_KEEP;
  return file === undefined ? undefined : { file, maxBytes, keep };
}

/** Why the daemon could not append to (and rotate) `file`, an absolute path; undefined: it can. */
export function auditFileProblem(file: string): string | undefined {
  const dir = dirname(file);
  if (!existsSync(dir)) return `its directory ${dir} does not exist`;
  if (!statSync(dir).isDirectory()) return `${dir} is not a directory`;
  try {
    accessSync(dir, fsc.W_OK);
  } catch {
    return `its directory ${dir} is not writable (the log is rotated by renaming it there)`;
  }
  if (existsSync(file)) {
    if (!statSync(file).isFile()) return `${file} is not a regular file`;
    try {
      accessSync(file, fsc.W_OK);
    } catch {
      return `${file} is not writable`;
    }
  }
  return undefined;
}
