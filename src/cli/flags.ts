// A small, strict flag parser: unknown flags and missing values are errors that show the usage.
import { SigwardError } from '../errors.ts';

export type FlagSpec = Record<string, 'string' | 'boolean'>;
export interface Flags {
  readonly _: string[];
  [name: string]: string | boolean | string[] | undefined;
}

export function parseFlags(argv: readonly string[], spec: FlagSpec, usage: string): Flags {
  const out: Flags = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('--')) {
      out._.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const kind = spec[name];
    if (!kind) throw new SigwardError('CONFIG_INVALID', `unknown option --${name}\n${usage}`);
    if (kind === 'boolean') {
      out[name] = true;
      continue;
    }
    const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith('--')))
      throw new SigwardError('CONFIG_INVALID', `option --${name} needs a value\n${usage}`);
    out[name] = value;
  }
  return out;
}
