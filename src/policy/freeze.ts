// Deep freeze for compiled policies and decisions: shared by every request, so nothing may change them after the
// fact. Node KeyObjects and typed arrays (a TrustedKey's `key` and `spkiDer`) are left as they are: a KeyObject is
// immutable already, and the language refuses to freeze a non-empty typed array.
import { KeyObject } from 'node:crypto';

export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  if (ArrayBuffer.isView(value) || value instanceof KeyObject) return value;
  Object.freeze(value);
  for (const k of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[k]);
  return value;
}
