// The process surface a command may use, injected so commands are testable without spawning.
import type { Terminal } from './password.ts';

export interface Io {
  out(line: string): void;
  err(line: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where a password prompt is asked (cli/password.ts); the process's own standard input when absent. */
  readonly terminal?: () => Terminal;
}

export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
};
