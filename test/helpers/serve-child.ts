// `sigward serve` as a child process with stdout and stderr piped apart (the tests of what goes where, and of
// signals), on 127.0.0.1 with an OS-chosen port, the config written into a temp dir that `remove()` deletes.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { stringify } from 'yaml';
import { removeTempDir, tempDir } from './proc.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

export interface ServeChild {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  /** The exit code, or the signal's name. */
  readonly exited: Promise<number | string | null>;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** SIGKILL (when still running) and remove the temp dir. */
  remove(): void;
}

export function spawnServe(config: Record<string, unknown>): ServeChild {
  const dir = tempDir('serve-child');
  const file = join(dir, 'sigward.yaml');
  // Never the built-in /var/cache/sigward: the sget store and the kept state would be shared between tests and runs.
  const cache = (config.cache ?? {}) as Record<string, unknown>;
  writeFileSync(
    file,
    stringify(cache.dir === undefined ? { ...config, cache: { ...cache, dir: join(dir, 'cache') } } : config),
  );
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin/sigward.mjs'), 'serve', '--config', file, '--listen', '127.0.0.1:0'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, sig) => resolve(code ?? sig)),
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return {
    child,
    exited,
    stderr: () => stderr,
    remove() {
      child.kill('SIGKILL');
      removeTempDir(dir);
    },
  };
}
