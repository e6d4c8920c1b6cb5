// `sigward version` and `sigward --version`: the version in package.json (src/ and dist/ both sit one level below it).
import { readFileSync } from 'node:fs';
import type { Io } from './io.ts';
import { parseFlags } from './flags.ts';

export const VERSION_USAGE = `usage: sigward version   (or: sigward --version)

Prints "sigward VERSION", the version in sigward's package.json. Exits 0.`;

export function sigwardVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

export async function versionCommand(argv: readonly string[], io: Io): Promise<number> {
  let flags;
  try {
    flags = parseFlags(argv, { help: 'boolean' }, '');
  } catch (e) {
    io.err(`sigward version: ${(e as Error).message.trim()}; \`sigward version --help\` shows the usage`);
    return 2;
  }
  if (flags.help) {
    io.out(VERSION_USAGE);
    return 0;
  }
  if (flags._.length > 0) {
    io.err(`sigward version: unexpected argument '${flags._[0]}'; \`sigward version --help\` shows the usage`);
    return 2;
  }
  io.out(`sigward ${sigwardVersion()}`);
  return 0;
}
