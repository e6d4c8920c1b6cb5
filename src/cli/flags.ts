// A small, strict flag parser: unknown flags and missing values are errors that show the usage.
// `string` keeps the last value given, `strings` collects every value of a repeatable flag (`--key a --key b`), and
// `short` maps one-letter flags to long ones (`-a k=v` as `--annotation k=v`, as cosign spells it).
import { SigwardError } from '../errors.ts';

export type FlagSpec = Record<string, 'string' | 'strings' | 'boolean'>;
export interface Flags {
  readonly _: string[];
  [name: string]: string | boolean | string[] | undefined;
}

export function parseFlags(
  argv: readonly string[],
  spec: FlagSpec,
  usage: string,
  short: Readonly<Record<string, string>> = {},
): Flags {
  const out: Flags = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const long = /^-[A-Za-z]$/.test(a) ? short[a.slice(1)] : undefined;
    if (!a.startsWith('--') && long === undefined) {
      out._.push(a);
      continue;
    }
    const eq = long === undefined ? a.indexOf('=') : -1;
    const name = long ?? a.slice(2, eq < 0 ? undefined : eq);
    const shown = long === undefined ? `--${name}` : a;
    const kind = spec[name];
    if (!kind) throw new SigwardError('CONFIG_INVALID', `unknown option ${shown}\n${usage}`);
    if (kind === 'boolean') {
      out[name] = true;
      continue;
    }
    const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith('--')))
      throw new SigwardError('CONFIG_INVALID', `option ${shown} needs a value\n${usage}`);
    if (kind === 'strings') out[name] = [...((out[name] as string[] | undefined) ?? []), value];
    else out[name] = value;
  }
  return out;
}

/** The values of a `strings` flag (none when absent). */
export function flagList(flags: Flags, name: string): string[] {
  const v = flags[name];
  return Array.isArray(v) ? v : [];
}

/** A command given wrongly (exit 2): one line saying what to fix. */
export function usage(message: string): SigwardError {
  return new SigwardError('CONFIG_INVALID', message);
}

/** cosign's `-a` values: comma-separated `key=value` pairs (a string-slice flag), the value after the first `=`. */
export function annotationPairs(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of values.flatMap((v) => v.split(','))) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usage(`-a ${JSON.stringify(pair)}: expected KEY=VALUE`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}
