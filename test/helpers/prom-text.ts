// A strict reader of the Prometheus text exposition format (0.0.4) for metrics tests: every sample line parsed into
// name, labels and value; HELP and TYPE lines collected per family. Anything it cannot read throws, so a malformed
// exposition fails the test instead of being skipped.
import assert from 'node:assert/strict';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly samples: readonly Sample[];
  /** family name -> its HELP text */
  readonly help: ReadonlyMap<string, string>;
  /** family name -> counter | gauge | histogram | summary | untyped */
  readonly type: ReadonlyMap<string, string>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/y;

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const at = LABEL.lastIndex;
    const m = LABEL.exec(text);
    assert.ok(m, `unreadable labels at ${at} in ${JSON.stringify(line)}`);
    const [, name = '', raw = ''] = m;
    assert.ok(!(name in labels), `label ${name} twice in ${JSON.stringify(line)}`);
    labels[name] = raw.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name = '', rest = ''] = meta;
      const into = kind === 'HELP' ? help : type;
      assert.ok(!into.has(name), `${kind} for ${name} twice`);
      into.set(name, rest);
      continue;
    }
    assert.ok(!line.startsWith('#'), `unknown comment line ${JSON.stringify(line)}`);
    const m = SAMPLE.exec(line);
    assert.ok(m, `unreadable sample line ${JSON.stringify(line)}`);
    const [, name = '', labelText, valueText = ''] = m;
    // Prometheus reads values with Go's ParseFloat: Inf and NaN in any case (prom-client writes `Nan`).
    const value = /^\+?inf$/i.test(valueText)
      ? Infinity
      : /^-inf$/i.test(valueText)
        ? -Infinity
        : /^nan$/i.test(valueText)
          ? NaN
          : Number(valueText);
    assert.ok(!Number.isNaN(value) || /^nan$/i.test(valueText), `unreadable value in ${JSON.stringify(line)}`);
    samples.push({ name, labels: labelText === undefined ? {} : parseLabels(labelText, line), value });
  }
  return { samples, help, type };
}

/** The family a sample belongs to: histogram series carry _bucket/_sum/_count on the family's name. */
export function familyOf(e: Exposition, sample: string): string | undefined {
  if (e.type.has(sample)) return sample;
  const base = sample.replace(/_(bucket|sum|count)$/, '');
  return e.type.get(base) === 'histogram' || e.type.get(base) === 'summary' ? base : undefined;
}

/** The value of the one sample with this name and exactly these labels; 0 when it is absent (a series not yet
 * created counts as zero for a counter). */
export function valueOf(e: Exposition, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).sort();
  const found = e.samples.filter((s) => {
    if (s.name !== name) return false;
    const have = Object.entries(s.labels).sort();
    return have.length === want.length && have.every(([k, v], i) => k === want[i]?.[0] && v === want[i]?.[1]);
  });
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} appears ${found.length} times`);
  return found[0]?.value ?? 0;
}
