// Strict JSON for signed payloads (RFC 8259). JSON.parse silently keeps the LAST of duplicate keys and Go's
// encoding/json does the same, so `{"digest":"A","digest":"B"}` could mean different things to different readers
// of one signed document; containers/image refuses such input and so do we.
// Also refused: invalid UTF-8 (fatal decoding), a byte-order mark, trailing data, and nesting deeper than 64.

/** The same shape as verify/'s Parsed<T>: parsers of untrusted bytes answer, they do not throw. */
export type StrictJson =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly problem: string };
const ok = (value: unknown): StrictJson => ({ ok: true, value });
const problem = (text: string): StrictJson => ({ ok: false, problem: text });

const MAX_DEPTH = 64;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Parse `input` (bytes are decoded as strict UTF-8) into plain JSON values, refusing duplicate object keys. */
export function parseStrictJson(input: Uint8Array | string): StrictJson {
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    try {
      text = utf8.decode(input);
    } catch {
      return problem('is not valid UTF-8');
    }
  }
  const fast = viaJsonParse(text);
  return fast !== undefined ? ok(fast.value) : parseStrictJsonByHand(text);
}

/**
 * JSON.parse's value, when the reader below would accept `text` and build the same value; otherwise undefined, and
 * the reader decides (and words the problem). The reader runs in JavaScript and most documents are read once (a cold
 * signature lookup), so it runs unoptimised: ~5x slower than JSON.parse on a manifest. JSON.parse accepts the same
 * grammar (RFC 8259: the same whitespace, numbers, literals, control characters refused in strings, nothing after the
 * value); what it does not check is left to the reader: any backslash (escapes are where "a" and "\u0061" are one
 * key, and where surrogates are checked), a duplicate key (JSON.parse keeps the last: one member fewer than the text
 * has), and nesting deeper than MAX_DEPTH.
 */
function viaJsonParse(text: string): { value: unknown } | undefined {
  if (text.includes('\\')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
  // Without escapes a string ends at the next quote, so the even pieces of a split on '"' are all that lies outside
  // strings: there every ':' separates one member, and brackets nest.
  const pieces = text.split('"');
  let outside = '';
  for (let i = 0; i < pieces.length; i += 2) outside += pieces[i];
  const members = outside.split(':').length - 1;
  const brackets = outside.replace(/[^[\]{}]/g, '');
  if (brackets.length > 2 * MAX_DEPTH) {
    let depth = 0;
    for (let i = 0; i < brackets.length; i++) {
      const c = brackets.charCodeAt(i);
      depth += c === 0x7b || c === 0x5b ? 1 : -1;
      if (depth > MAX_DEPTH) return undefined;
    }
  }
  return memberCount(value) === members ? { value } : undefined;
}

/** Object members in a parsed JSON value, at every level. */
function memberCount(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  let n = 0;
  if (Array.isArray(v)) {
    for (const e of v) n += memberCount(e);
    return n;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) n += 1 + memberCount(o[k]);
  return n;
}

/** The strict reader itself, without the JSON.parse shortcut (the differential test compares the two). */
export function parseStrictJsonByHand(text: string): StrictJson {
  const parser = new Parser(text);
  try {
    parser.ws();
    const value = parser.value(0);
    parser.ws();
    if (parser.pos !== text.length) parser.fail('unexpected data after the JSON value');
    return ok(value);
  } catch (e) {
    if (e instanceof JsonSyntax) return problem(e.message);
    throw e;
  }
}

class JsonSyntax extends Error {}

const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

class Parser {
  pos = 0;
  constructor(private readonly s: string) {}

  fail(what: string): never {
    throw new JsonSyntax(`is not strict JSON: ${what} at offset ${this.pos}`);
  }

  ws(): void {
    for (;;) {
      const c = this.s.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.pos++;
      else return;
    }
  }

  value(depth: number): unknown {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`);
    const c = this.s[this.pos];
    if (c === '{') return this.object(depth + 1);
    if (c === '[') return this.array(depth + 1);
    if (c === '"') return this.string();
    if (this.s.startsWith('true', this.pos)) return this.literal(4, true);
    if (this.s.startsWith('false', this.pos)) return this.literal(5, false);
    if (this.s.startsWith('null', this.pos)) return this.literal(4, null);
    NUMBER_RE.lastIndex = this.pos;
    const m = NUMBER_RE.exec(this.s);
    if (m !== null) {
      this.pos += m[0].length;
      return Number(m[0]);
    }
    return this.fail(c === undefined ? 'unexpected end of input' : `unexpected character ${JSON.stringify(c)}`);
  }

  hex4(at: number): number {
    const hex = this.s.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('bad \\u escape');
    return parseInt(hex, 16);
  }

  literal(length: number, v: boolean | null): boolean | null {
    this.pos += length;
    return v;
  }

  object(depth: number): Record<string, unknown> {
    this.pos++; // '{'
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    this.ws();
    if (this.s[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      if (this.s[this.pos] !== '"') this.fail('expected a string key');
      const keyAt = this.pos;
      const key = this.string();
      // Keys are compared after unescaping: "a" and "\u0061" are the same member.
      if (seen.has(key)) {
        this.pos = keyAt;
        this.fail(`duplicate key ${JSON.stringify(key)}`);
      }
      seen.add(key);
      this.ws();
      if (this.s[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      this.ws();
      // defineProperty: a member named "__proto__" becomes an own property, never the prototype.
      Object.defineProperty(out, key, {
        value: this.value(depth),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      this.ws();
      const c = this.s[this.pos++];
      if (c === '}') return out;
      if (c !== ',') this.fail("expected ',' or '}'");
      this.ws();
    }
  }

  array(depth: number): unknown[] {
    this.pos++; // '['
    const out: unknown[] = [];
    this.ws();
    if (this.s[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      this.ws();
      const c = this.s[this.pos++];
      if (c === ']') return out;
      if (c !== ',') this.fail("expected ',' or ']'");
      this.ws();
    }
  }

  string(): string {
    this.pos++; // opening quote
    let out = '';
    let start = this.pos;
    for (;;) {
      const c = this.s.charCodeAt(this.pos);
      if (Number.isNaN(c)) this.fail('unterminated string');
      if (c === 0x22) {
        out += this.s.slice(start, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail('unescaped control character in string');
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      out += this.s.slice(start, this.pos);
      const e = this.s[this.pos + 1];
      if (e === 'u') {
        const unit = this.hex4(this.pos + 2);
        this.pos += 6;
        // Lone surrogates are refused: Go decodes them as U+FFFD, JavaScript keeps them, so two readers would
        // see different strings (and different keys).
        if (unit >= 0xdc00 && unit <= 0xdfff) this.fail('unpaired surrogate escape');
        if (unit >= 0xd800 && unit <= 0xdbff) {
          const low = this.s.startsWith('\\u', this.pos) ? this.hex4(this.pos + 2) : -1;
          if (low < 0xdc00 || low > 0xdfff) this.fail('unpaired surrogate escape');
          out += String.fromCharCode(unit, low);
          this.pos += 6;
        } else {
          out += String.fromCharCode(unit);
        }
      } else {
        const r = e === undefined ? undefined : ESCAPES[e];
        if (r === undefined) this.fail('bad escape in string');
        out += r;
        this.pos += 2;
      }
      start = this.pos;
    }
  }
}
