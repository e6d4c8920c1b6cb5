// The shape every scenario reports in: one row per figure, the median per contender plus the raw samples, so the
// JSON keeps what the table summarises.
import type { AnyContender as Contender } from './stack.ts';
import { median } from './stats.ts';

export interface Row {
  /** Stable key, e.g. `manifest.tag.c1.rps`; targets and later comparisons refer to it. */
  readonly id: string;
  /** What a person reads in the table, e.g. `manifest by tag, 1 conn`. */
  readonly label: string;
  /** `req/s`, `p50 ms`, `MB/s`, `MiB`... (MB = 10^6 bytes). */
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  /** The median of the samples per contender (absent: not measured for that contender). */
  readonly values: Partial<Record<Contender, number>>;
  readonly samples: Partial<Record<Contender, readonly number[]>>;
  /** How `values` summarise the samples: the median (default) or, for peaks, the maximum. */
  readonly reduce: 'median' | 'max';
  readonly note?: string;
}

export interface RowOptions {
  readonly note?: string;
  readonly reduce?: 'median' | 'max';
}

/** Build a row from samples; the value of each contender is the median (or the max) of its samples. */
export function row(
  id: string,
  label: string,
  unit: string,
  better: 'higher' | 'lower',
  samples: Partial<Record<Contender, readonly number[]>>,
  opts: RowOptions = {},
): Row {
  const reduce = opts.reduce ?? 'median';
  const values: Partial<Record<Contender, number>> = {};
  for (const [c, s] of Object.entries(samples) as [Contender, readonly number[]][]) {
    if (s.length > 0) values[c] = reduce === 'max' ? Math.max(...s) : median(s);
  }
  return { id, label, unit, better, values, samples, reduce, ...(opts.note !== undefined ? { note: opts.note } : {}) };
}

/** Pick one numeric field out of per-contender sample objects. */
export function pluck<T>(
  samples: Partial<Record<Contender, readonly T[]>>,
  field: (t: T) => number,
): Partial<Record<Contender, number[]>> {
  const out: Partial<Record<Contender, number[]>> = {};
  for (const [c, s] of Object.entries(samples) as [Contender, readonly T[]][]) out[c] = s.map(field);
  return out;
}
