// Run the sigward command as a person runs it. `sigwardCli`: a child process (`bin/sigward.mjs ARGS…`), its exit
// code and its whole stdout and stderr. `sigwardInProcess`: the same command through src/main.ts's `main` in this
// process (no node start, no module loading per run), with the same result: main's exit code and every line the
// command wrote to its Io. Both see the test process's environment without COSIGN_* variables, plus `env`.
// In process there is no terminal to ask a password on (as for the child, whose standard input is a pipe), the
// working directory is the test process's (a test that needs another one runs the child), and `serve` is refused: it
// owns the process's signals.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { Terminal } from '../../src/cli/password.ts';
import { main } from '../../src/main.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

export interface CliProcessResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly env?: Record<string, string>;
  readonly cwd?: string;
}

/** The test process's environment without COSIGN_* variables, plus `extra`. */
function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('COSIGN_')) env[k] = v;
  return Object.assign(env, extra);
}

export function sigwardCli(args: readonly string[], opts: CliOptions = {}): Promise<CliProcessResult> {
  const env = cliEnv(opts.env);
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(ROOT, 'bin/sigward.mjs'), ...args],
      // A safety bound so a hung command fails the test instead of hanging it; not a timing assertion.
      { cwd: opts.cwd ?? ROOT, env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : undefined;
        if (code === undefined) reject(new Error(`sigward ${args.join(' ')}: ${err?.message ?? ''}\n${stderr}`));
        else resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Standard input that is not a terminal: a command that would prompt refuses, as the child with a pipe does. */
const NO_TERMINAL: Terminal = {
  interactive: false,
  readHidden: () => Promise.reject(new Error('sigwardInProcess: there is no terminal to prompt on')),
  readAll: () => Promise.reject(new Error('sigwardInProcess: there is no standard input to read')),
};

export async function sigwardInProcess(args: readonly string[], opts: CliOptions = {}): Promise<CliProcessResult> {
  if (args[0] === 'serve') {
    throw new Error(
      'sigwardInProcess: `serve` runs until a signal and takes over the process signals (SIGINT, SIGTERM, SIGHUP); ' +
        'start the daemon with startSigwardProcess (test/helpers/sigward.ts)',
    );
  }
  if (opts.cwd !== undefined) {
    throw new Error(
      `sigwardInProcess: cannot run in ${opts.cwd}: commands resolve relative paths against this process's ` +
        'working directory; use sigwardCli (a child process) for a test that needs another one',
    );
  }
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    out: (line) => (stdout += `${line}\n`),
    err: (line) => (stderr += `${line}\n`),
    env: cliEnv(opts.env),
    terminal: () => NO_TERMINAL,
  });
  return { code, stdout, stderr };
}
