// Run a sigward command in this process, as `sigward ARGS…` would run it (src/main.ts: exit code, stdout and stderr
// lines), with an environment of the test's choosing instead of the process's.
import { main } from '../../src/main.ts';

export interface CliRun {
  readonly code: number;
  readonly out: string[];
  readonly err: string[];
}

export async function runCli(argv: readonly string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env });
  return { code, out, err };
}
