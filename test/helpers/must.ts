// Fixture accessors: a missing fixture fails the test with what was missing, where a non-null assertion (`!`) would
// pass `undefined` on and fail later with an unrelated TypeError (or not at all).

/** `x`, or throw naming `what` when it is undefined or null. */
export function must<T>(x: T | undefined | null, what: string): T {
  if (x === undefined || x === null) throw new Error(`test fixture missing: ${what}`);
  return x;
}

/** `list[i]`, or throw naming the index and the length (negative `i` counts from the end, as Array.at does). */
export function at<T>(list: ArrayLike<T> | readonly T[], i: number, what = 'list'): T {
  const j = i < 0 ? list.length + i : i;
  const x = list[j];
  if (x === undefined) throw new Error(`test fixture missing: ${what}[${i}] (length ${list.length})`);
  return x;
}

/** `record[key]`, or throw naming the key. */
export function key<T>(record: Readonly<Record<string, T>> | ReadonlyMap<string, T>, k: string, what = 'record'): T {
  const x = record instanceof Map ? record.get(k) : (record as Readonly<Record<string, T>>)[k];
  if (x === undefined) throw new Error(`test fixture missing: ${what}[${JSON.stringify(k)}]`);
  return x;
}
