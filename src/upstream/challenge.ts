// WWW-Authenticate parsing (RFC 9110 section 11.6.1): one or more challenges, each a scheme followed by
// comma-separated auth-params whose values are tokens or quoted strings. Registries send e.g.
//   Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"
// (docker token spec, "How to authenticate"). A scope holds commas (`pull,push`), so a naive split is wrong.

export interface Challenge {
  /** Lowercase scheme: `bearer`, `basic`, … */
  readonly scheme: string;
  /** Parameters by lowercase name. */
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
const BARE_VALUE = /[^\s,]*/y;

export function parseChallenges(input: string | readonly string[] | undefined): Challenge[] {
  const values = input === undefined ? [] : typeof input === 'string' ? [input] : input;
  const out: Challenge[] = [];
  for (const v of values) parseInto(v, out);
  return out;
}

function parseInto(s: string, out: Challenge[]): void {
  let i = 0;
  let current: { scheme: string; params: Record<string, string> } | undefined;
  const skipSpace = (): void => {
    while (s[i] === ' ' || s[i] === '\t') i++;
  };
  const match = (re: RegExp): string => {
    re.lastIndex = i;
    const m = re.exec(s);
    const text = m?.[0] ?? '';
    i += text.length;
    return text;
  };
  while (i < s.length) {
    skipSpace();
    if (s[i] === ',') {
      i++;
      continue;
    }
    const name = match(TOKEN);
    if (name === '') {
      i++; // a stray character: skip it rather than loop forever
      continue;
    }
    skipSpace();
    if (s[i] === '=' && current !== undefined) {
      i++;
      skipSpace();
      current.params[name.toLowerCase()] = s[i] === '"' ? quoted() : match(BARE_VALUE);
    } else {
      current = { scheme: name.toLowerCase(), params: {} };
      out.push(current);
    }
  }

  function quoted(): string {
    let value = '';
    i++; // opening quote
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) i++;
      value += s[i];
      i++;
    }
    i++; // closing quote (or end of input)
    return value;
  }
}
