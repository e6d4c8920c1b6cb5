// Small result values for the pure core. Parsers of untrusted bytes return a `Parsed<T>` instead of throwing, so
// a bad signature can never surface as an exception; only programmer errors throw.
import type { RejectReason, SignatureCheck, UnevaluatedMaterial, UntrustedSignature } from './types.ts';

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

export function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function problem<T = never>(text: string): Parsed<T> {
  return { ok: false, problem: text };
}

/** A rejected check: not verified, no signers, a stable reason and the human message. */
export function rejected(
  sig: UntrustedSignature,
  reason: RejectReason,
  message: string,
  notEvaluated: readonly UnevaluatedMaterial[] = [],
): SignatureCheck {
  const base = { format: sig.format, source: sig.source, verified: false, signers: [], reason, message };
  return notEvaluated.length > 0 ? { ...base, notEvaluated } : base;
}

/** True when `v` is a JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Describe a JSON value's type for messages: `string`, `number`, `object`, `array`, `null`, `boolean`. */
export function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** The first key of `obj` not in `allowed`, for "unknown field" messages. */
export function unknownField(obj: Record<string, unknown>, allowed: readonly string[]): string | undefined {
  return Object.keys(obj).find((k) => !allowed.includes(k));
}

/** Remove `m` from a list of unevaluated material (it was checked after all). */
export function drop(list: UnevaluatedMaterial[], m: UnevaluatedMaterial): void {
  const i = list.indexOf(m);
  if (i >= 0) list.splice(i, 1);
}
