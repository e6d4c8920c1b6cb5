// Compact JSON exactly as Go's encoding/json Marshal writes it, for byte-compatible cosign artifacts.
// Objects are built from explicit entry lists (Go structs: declaration order) or sorted maps (Go maps: keys in
// byte order), never from JS objects, whose key order puts integer-like keys first.
// Strings (encoding/json encode.go, appendString, HTML escaping on as Marshal does): `"` and `\` escaped;
// \b \f \n \r \t as short escapes (Go >= 1.22, which every current cosign is built with); other controls as
// \u00xx; `<` `>` `&` as \u003c \u003e \u0026; U+2028/U+2029 as \u2028/\u2029; the rest as raw UTF-8.

/** A JSON fragment already serialized (what the helpers below return and accept). */
export type RawJson = string & { readonly __rawJson: unique symbol };

const SHORT: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function goString(s: string): RawJson {
  if (LONE_SURROGATE.test(s))
    throw new TypeError('goString: string contains an unpaired surrogate (not representable as UTF-8)');
  // eslint-disable-next-line no-control-regex -- Go's encoder escapes every control character: matching them is the point
  const body = s.replace(/["\\\u0000-\u001f<>&\u2028\u2029]/g, (c) => {
    const short = SHORT[c];
    if (short !== undefined) return short;
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
  return `"${body}"` as RawJson;
}

/** Integers only: Go's float formatting of non-integers is not reproduced here. */
export function goNumber(n: number): RawJson {
  if (!Number.isSafeInteger(n)) throw new TypeError(`goNumber: ${n} is not a safe integer`);
  return String(n) as RawJson;
}

export function goBool(b: boolean): RawJson {
  return String(b) as RawJson;
}

export const goNull = 'null' as RawJson;

/** A Go struct: members in the given order; `undefined` values are omitted (`omitempty`). */
export function goStruct(entries: ReadonlyArray<readonly [string, RawJson | undefined]>): RawJson {
  const parts = entries
    .filter((e): e is readonly [string, RawJson] => e[1] !== undefined)
    .map(([k, v]) => `${goString(k)}:${v}`);
  return `{${parts.join(',')}}` as RawJson;
}

/** A Go map: keys sorted by their UTF-8 bytes, as encoding/json does. */
export function goMap(entries: ReadonlyArray<readonly [string, RawJson]>): RawJson {
  const sorted = [...entries].sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
  return goStruct(sorted);
}

export function goStringMap(record: Readonly<Record<string, string>>): RawJson {
  return goMap(Object.entries(record).map(([k, v]) => [k, goString(v)] as const));
}

export function goArray(items: readonly RawJson[]): RawJson {
  return `[${items.join(',')}]` as RawJson;
}

/** Scalars of an annotation map (`optional` in simple signing). */
export function goScalar(v: string | number | boolean | null): RawJson {
  if (v === null) return goNull;
  if (typeof v === 'string') return goString(v);
  if (typeof v === 'number') return goNumber(v);
  return goBool(v);
}

export function utf8(json: RawJson): Uint8Array {
  return new Uint8Array(Buffer.from(json, 'utf8'));
}
