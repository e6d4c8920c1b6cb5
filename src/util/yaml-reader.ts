// Pure helpers for reading untrusted YAML values into typed values while collecting EVERY problem with its YAML
// path and line, so `check-config` can report them all at once. Shared by config/ (server, upstreams, limits) and
// policy/ (trust, policy): it lives below both so that policy/ never imports config/. No I/O here.

export type Path = ReadonlyArray<string | number>;

export interface Problem {
  /** e.g. `upstreams[0].auth.passwordFile` */
  path: string;
  /** 1-based line in the YAML file, when known. */
  line: number | undefined;
  message: string;
}

export function formatPath(path: Path): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? p : `.${p}`;
  }
  return out === '' ? '(top level)' : out;
}

export class Problems {
  readonly list: Problem[] = [];
  constructor(private readonly lineOf: (path: Path) => number | undefined = () => undefined) {}

  add(path: Path, message: string): void {
    this.list.push({ path: formatPath(path), line: this.lineOf(path), message });
  }

  get empty(): boolean {
    return this.list.length === 0;
  }
}

export function formatProblems(file: string, problems: readonly Problem[]): string {
  const sorted = [...problems].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  const lines = sorted.map((p) => `  ${file}${p.line === undefined ? '' : `:${p.line}`}: ${p.path}: ${p.message}`);
  return `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${file}:\n${lines.join('\n')}`;
}

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** A mapping (or undefined when absent and optional). Reports unknown keys so typos never pass silently. */
export function readObj(v: unknown, path: Path, problems: Problems, allowedKeys: readonly string[]): Obj | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) {
    problems.add(path, `must be a mapping, got ${typeName(v)}`);
    return undefined;
  }
  for (const k of Object.keys(v)) {
    if (!allowedKeys.includes(k)) {
      problems.add([...path, k], `unknown key '${k}' (allowed here: ${allowedKeys.join(', ')})`);
    }
  }
  return v;
}

export function readList(v: unknown, path: Path, problems: Problems): unknown[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) {
    problems.add(path, `must be a list, got ${typeName(v)}`);
    return undefined;
  }
  return v as unknown[];
}

export function readString(
  v: unknown,
  path: Path,
  problems: Problems,
  opts: { nonEmpty?: boolean } = {},
): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') {
    problems.add(path, `must be a string, got ${typeName(v)}`);
    return undefined;
  }
  if (opts.nonEmpty !== false && v.trim() === '') {
    problems.add(path, 'must not be empty');
    return undefined;
  }
  return v;
}

export function readBool(v: unknown, path: Path, problems: Problems): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') {
    problems.add(path, `must be true or false, got ${typeName(v)}`);
    return undefined;
  }
  return v;
}

export interface Range {
  readonly min: number;
  readonly max: number;
}

/** How one kind of number is written in YAML and named in messages. */
interface Quantity {
  /** What a valid value looks like, for the message about one that is not. */
  readonly expected: string;
  parse(v: unknown): number | undefined;
  /** The message about a value outside `range`. */
  outOfRange(range: Range, got: number): string;
}

/** The one shape of every numeric read: absent, unreadable (a problem), out of range (a problem), or the number. */
function readQuantity(v: unknown, path: Path, problems: Problems, range: Range, q: Quantity): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = q.parse(v);
  if (n === undefined) {
    problems.add(path, `must be ${q.expected}, got ${typeName(v)}`);
    return undefined;
  }
  if (n < range.min || n > range.max) {
    problems.add(path, q.outOfRange(range, n));
    return undefined;
  }
  return n;
}

const wholeNumber = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);

const INT: Quantity = {
  expected: 'a whole number',
  parse: wholeNumber,
  outOfRange: (r, n) => `must be between ${r.min} and ${r.max}, got ${n}`,
};

export function readInt(v: unknown, path: Path, problems: Problems, range: Range): number | undefined {
  return readQuantity(v, path, problems, range, INT);
}

export function readEnum<T extends string>(
  v: unknown,
  path: Path,
  problems: Problems,
  allowed: readonly T[],
): T | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    problems.add(path, `must be one of ${allowed.join(' | ')}, got ${typeName(v)}`);
    return undefined;
  }
  return v as T;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
};

const SIZE: Quantity = {
  expected: 'a size such as 4194304, "4MiB" or "10GiB"',
  parse: (v) => {
    if (typeof v !== 'string') return wholeNumber(v);
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
    const unit = m?.[2]?.toLowerCase() ?? '';
    return m && Object.hasOwn(SIZE_UNITS, unit) ? Math.round(Number(m[1]) * (SIZE_UNITS[unit] ?? 1)) : undefined;
  },
  outOfRange: (r, n) => `must be between ${r.min} and ${r.max} bytes, got ${n}`,
};

/** A byte size: a whole number, or a string like `4MiB`, `512 KiB`, `10GB`. */
export function readSize(v: unknown, path: Path, problems: Problems, range: Range): number | undefined {
  return readQuantity(v, path, problems, range, SIZE);
}

const DURATION_UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

const DURATION: Quantity = {
  expected: 'a duration such as "500ms", "30s", "5m" or "1h"',
  parse: (v) => {
    if (typeof v !== 'string') return wholeNumber(v);
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(v);
    return m ? Math.round(Number(m[1]) * DURATION_UNITS[m[2] as keyof typeof DURATION_UNITS]) : undefined;
  },
  outOfRange: (r, n) => `must be between ${r.min}ms and ${r.max}ms, got ${n}ms`,
};

/** A duration: whole milliseconds, or a string like `500ms`, `30s`, `5m`, `1h`. Returns milliseconds. */
export function readDuration(v: unknown, path: Path, problems: Problems, range: Range): number | undefined {
  return readQuantity(v, path, problems, range, DURATION);
}
