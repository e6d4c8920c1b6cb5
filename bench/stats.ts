// Medians and ratios. Machine speed drifts by ~30% within an hour (measured on these machines), so every scenario
// lets the contenders take turns in short rounds (direct, sigward, peer, direct, sigward, peer, ...) and reports the
// median of each contender's rounds: a slow minute then hits every contender alike instead of one of them.

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** a / b, NaN when either is missing or b is 0. */
export function ratio(a: number | undefined, b: number | undefined): number {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return NaN;
  return a / b;
}
