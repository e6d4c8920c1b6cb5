// A small, strict TOML reader for the subset that runtime configuration files use (containerd's config.toml and
// hosts.toml, containers-registries.conf): comments, `key = value` with bare, quoted and dotted keys, `[table]` and
// `[[array.of.tables]]` headers, basic and literal strings (single line), integers, floats, booleans, arrays (over
// several lines, trailing comma allowed) and inline tables. Anything else (multi-line strings, dates, a key given
// twice, a key named __proto__, constructor or prototype) is an error naming the line: sigward doctor reports such a
// file as one it could not read, never as fine.

export type TomlValue = string | number | boolean | TomlValue[] | TomlTable;
export interface TomlTable {
  [key: string]: TomlValue;
}

export class TomlError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

/** Tables created by a header (`[a]`) or implicitly (`[a.b]` creates a); an implicit one may still get its header. */
interface State {
  readonly explicit: Set<TomlTable>;
  readonly arrays: Set<TomlValue[]>;
  /** Inline tables and arrays are closed: no header or dotted key may add to them. */
  readonly closed: Set<TomlTable>;
}

const BARE = /^[A-Za-z0-9_-]+/;

/** Keys that would reach Object.prototype through a plain object (`__proto__` sets the prototype): refused. */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

class Reader {
  pos = 0;
  line = 1;
  constructor(readonly text: string) {}

  fail(message: string): never {
    throw new TomlError(this.line, message);
  }
  peek(): string {
    return this.text[this.pos] ?? '';
  }
  /** Spaces and tabs only. */
  skipBlanks(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }
  /** A comment up to the end of the line. */
  skipComment(): void {
    if (this.peek() !== '#') return;
    while (this.pos < this.text.length && this.peek() !== '\n') {
      const c = this.text.charCodeAt(this.pos);
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) this.fail('control character in a comment');
      this.pos++;
    }
  }
  /** Blanks, newlines and comments (inside arrays). */
  skipAll(): void {
    for (;;) {
      this.skipBlanks();
      this.skipComment();
      if (this.peek() === '\n') {
        this.pos++;
        this.line++;
      } else if (this.text.startsWith('\r\n', this.pos)) {
        this.pos += 2;
        this.line++;
      } else return;
    }
  }
  /** The end of a line: blanks, an optional comment, then a newline or the end of the text. */
  endOfLine(): void {
    this.skipBlanks();
    this.skipComment();
    if (this.pos >= this.text.length) return;
    if (this.peek() === '\n') this.pos++;
    else if (this.text.startsWith('\r\n', this.pos)) this.pos += 2;
    else this.fail(`unexpected ${JSON.stringify(this.peek())} after a value (one key = value per line)`);
    this.line++;
  }

  key(): string[] {
    const parts: string[] = [];
    for (;;) {
      this.skipBlanks();
      const c = this.peek();
      if (c === '"') parts.push(this.basicString());
      else if (c === "'") parts.push(this.literalString());
      else {
        const m = BARE.exec(this.text.slice(this.pos));
        if (!m) this.fail(c === '' ? 'a key is missing' : `unexpected ${JSON.stringify(c)} where a key belongs`);
        parts.push(m[0]);
        this.pos += m[0].length;
      }
      const part = parts[parts.length - 1] as string;
      if (RESERVED_KEYS.has(part)) {
        this.fail(
          `the key ${JSON.stringify(part)} is not accepted: no runtime configuration uses it, and it names a ` +
            'property of every JavaScript object (remove it, or rename it)',
        );
      }
      this.skipBlanks();
      if (this.peek() !== '.') return parts;
      this.pos++;
    }
  }

  basicString(): string {
    if (this.text.startsWith('"""', this.pos)) this.fail('multi-line strings are not supported here');
    this.pos++;
    let out = '';
    for (;;) {
      const c = this.peek();
      if (c === '' || c === '\n' || c === '\r') this.fail('a string is not closed on its line');
      this.pos++;
      if (c === '"') return out;
      if (c !== '\\') {
        const code = c.charCodeAt(0);
        if ((code < 0x20 && code !== 0x09) || code === 0x7f) this.fail('control character in a string');
        out += c;
        continue;
      }
      const e = this.peek();
      this.pos++;
      const simple: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', '"': '"', '\\': '\\' };
      if (e in simple) out += simple[e];
      else if (e === 'u' || e === 'U') {
        const len = e === 'u' ? 4 : 8;
        const hex = this.text.slice(this.pos, this.pos + len);
        if (!new RegExp(`^[0-9A-Fa-f]{${len}}$`).test(hex)) this.fail(`bad \\${e} escape`);
        const cp = parseInt(hex, 16);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.fail(`\\${e}${hex} is not a Unicode scalar value`);
        out += String.fromCodePoint(cp);
        this.pos += len;
      } else this.fail(`unknown escape \\${e}`);
    }
  }

  literalString(): string {
    if (this.text.startsWith("'''", this.pos)) this.fail('multi-line strings are not supported here');
    const end = this.text.indexOf("'", this.pos + 1);
    const nl = this.text.indexOf('\n', this.pos + 1);
    if (end < 0 || (nl >= 0 && nl < end)) this.fail('a string is not closed on its line');
    const s = this.text.slice(this.pos + 1, end);
    this.pos = end + 1;
    return s;
  }

  value(state: State): TomlValue {
    const c = this.peek();
    if (c === '"') return this.basicString();
    if (c === "'") return this.literalString();
    if (c === '[') return this.array(state);
    if (c === '{') return this.inlineTable(state);
    const m = /^[^\s,\]}#]+/.exec(this.text.slice(this.pos));
    if (!m) this.fail(c === '' || c === '\n' ? 'a value is missing' : `unexpected ${JSON.stringify(c)}`);
    const word = m[0];
    this.pos += word.length;
    if (word === 'true') return true;
    if (word === 'false') return false;
    if (/^[+-]?(0|[1-9](_?[0-9])*)$/.test(word)) {
      const n = Number(word.replace(/_/g, ''));
      if (!Number.isSafeInteger(n)) this.fail(`integer ${word} is too large`);
      return n;
    }
    if (/^0x[0-9A-Fa-f](_?[0-9A-Fa-f])*$/.test(word)) return parseInt(word.slice(2).replace(/_/g, ''), 16);
    if (/^0o[0-7](_?[0-7])*$/.test(word)) return parseInt(word.slice(2).replace(/_/g, ''), 8);
    if (/^[+-]?(0|[1-9](_?[0-9])*)(\.[0-9](_?[0-9])*)?([eE][+-]?[0-9](_?[0-9])*)?$/.test(word)) {
      return Number(word.replace(/_/g, ''));
    }
    if (/^[+-]?(inf|nan)$/.test(word)) return word.includes('nan') ? NaN : word.startsWith('-') ? -Infinity : Infinity;
    if (/^\d{4}-\d{2}-\d{2}/.test(word)) this.fail('dates and times are not supported here');
    return this.fail(`${JSON.stringify(word)} is not a TOML value (strings need quotes)`);
  }

  array(state: State): TomlValue[] {
    this.pos++;
    const out: TomlValue[] = [];
    for (;;) {
      this.skipAll();
      if (this.peek() === ']') {
        this.pos++;
        return out;
      }
      out.push(this.value(state));
      this.skipAll();
      if (this.peek() === ',') this.pos++;
      else if (this.peek() !== ']') this.fail('expected , or ] in an array');
    }
  }

  inlineTable(state: State): TomlTable {
    this.pos++;
    const table: TomlTable = {};
    this.skipBlanks();
    if (this.peek() === '}') {
      this.pos++;
      state.closed.add(table);
      return table;
    }
    for (;;) {
      const k = this.key();
      if (this.peek() !== '=') this.fail('expected = after a key');
      this.pos++;
      this.skipBlanks();
      assign(this, state, table, k, this.value(state));
      this.skipBlanks();
      if (this.peek() === '}') {
        this.pos++;
        state.closed.add(table);
        return table;
      }
      if (this.peek() !== ',') this.fail('expected , or } in an inline table');
      this.pos++;
    }
  }
}

const isTable = (v: TomlValue | undefined): v is TomlTable => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The table at `path` below `from`, created when missing; `[[x]]` arrays lead to their last element. */
function descend(r: Reader, state: State, from: TomlTable, path: readonly string[], shown: string): TomlTable {
  let t = from;
  for (const part of path) {
    const next = t[part];
    if (next === undefined) {
      const created: TomlTable = {};
      t[part] = created;
      t = created;
    } else if (isTable(next)) {
      if (state.closed.has(next)) r.fail(`${shown}: ${part} is an inline table and cannot be extended`);
      t = next;
    } else if (Array.isArray(next) && state.arrays.has(next)) {
      const last = next[next.length - 1];
      if (!isTable(last)) r.fail(`${shown}: ${part} is empty`);
      t = last;
    } else r.fail(`${shown}: ${part} is already a value, not a table`);
  }
  return t;
}

function assign(r: Reader, state: State, table: TomlTable, key: readonly string[], value: TomlValue): void {
  const shown = key.join('.');
  const parent = descend(r, state, table, key.slice(0, -1), shown);
  const last = key[key.length - 1] as string;
  if (Object.hasOwn(parent, last)) r.fail(`${shown} is given twice`);
  parent[last] = value;
}

/** Parse a document; a TomlError names the first line that is not in the supported subset. */
export function parseToml(text: string): TomlTable {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const r = new Reader(text);
  const root: TomlTable = {};
  const state: State = { explicit: new Set([root]), arrays: new Set(), closed: new Set() };
  let current = root;
  for (;;) {
    r.skipAll();
    if (r.pos >= text.length) return root;
    if (r.peek() === '[') {
      const isArray = text.startsWith('[[', r.pos);
      r.pos += isArray ? 2 : 1;
      const path = r.key();
      const shown = path.join('.');
      if (!text.startsWith(isArray ? ']]' : ']', r.pos)) r.fail(`expected ${isArray ? ']]' : ']'} after [${shown}`);
      r.pos += isArray ? 2 : 1;
      const parent = descend(r, state, root, path.slice(0, -1), shown);
      const last = path[path.length - 1] as string;
      const existing = parent[last];
      if (isArray) {
        if (existing === undefined) {
          const arr: TomlValue[] = [];
          state.arrays.add(arr);
          parent[last] = arr;
        } else if (!(Array.isArray(existing) && state.arrays.has(existing))) {
          r.fail(`[[${shown}]]: ${shown} is already defined as something else`);
        }
        current = {};
        (parent[last] as TomlValue[]).push(current);
        state.explicit.add(current);
      } else {
        if (existing === undefined) {
          current = {};
          parent[last] = current;
        } else if (isTable(existing) && !state.explicit.has(existing) && !state.closed.has(existing)) {
          current = existing;
        } else r.fail(`[${shown}] is defined twice`);
        state.explicit.add(current);
      }
      r.endOfLine();
      continue;
    }
    const key = r.key();
    if (r.peek() !== '=') r.fail(`expected = after ${key.join('.')}`);
    r.pos++;
    r.skipBlanks();
    assign(r, state, current, key, r.value(state));
    r.endOfLine();
  }
}

/** The value at a path of keys, or undefined. */
export function tomlGet(t: TomlTable, ...path: string[]): TomlValue | undefined {
  let v: TomlValue | undefined = t;
  for (const p of path) {
    if (!isTable(v) || !Object.hasOwn(v, p)) return undefined;
    v = v[p];
  }
  return v;
}

export { isTable as isTomlTable };
