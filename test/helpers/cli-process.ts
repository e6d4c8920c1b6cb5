// Run the sigward command as a child process, exactly as a person runs it (`bin/sigward.mjs ARGS…`): its exit code
// and its whole stdout and stderr. The environment is the test process's without COSIGN_* variables, plus `env`.
import { execFile } from 'node:child_process';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

export interface CliProcessResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function sigwardCli(
  args: readonly string[],
  opts: { env?: Record<string, string>; cwd?: string } = {},
): Promise<CliProcessResult> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('COSIGN_')) env[k] = v;
  Object.assign(env, opts.env);
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
