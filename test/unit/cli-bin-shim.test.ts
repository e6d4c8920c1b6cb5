// The process boundary of the `sigward` command. The in-process runner the CLI tests use (sigwardInProcess) gives
// what the process gives (sigwardCli): exit code, stdout and stderr, COSIGN_* variables of the test process left
// out, `env` added. The shim (bin/sigward.mjs) picks what it runs: the compiled dist/main.js when dist/.stamp is at
// least as new as every file under src/ (or there is no src/, as in an installed package), else src/main.ts through
// tsx's loader. The real shim runs here as a child process in a copy of the project's layout whose dist/main.js and
// src/main.ts only say which of them ran, so each case is decided by the mtimes the test sets, not by whether the
// checkout happens to be built.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sigwardCli, sigwardInProcess } from '../helpers/cli-process.ts';
import { removeTempDir, runCommand, tempDir } from '../helpers/proc.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A project root with the real bin/ files, the real node_modules (for tsx), and stand-ins for dist/ and src/. */
function layout(): string {
  const dir = tempDir('bin-shim');
  mkdirSync(join(dir, 'bin'));
  for (const f of ['sigward.mjs', 'node-version.mjs']) copyFileSync(join(ROOT, 'bin', f), join(dir, 'bin', f));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  mkdirSync(join(dir, 'dist'));
  writeFileSync(join(dir, 'dist', 'main.js'), "process.stdout.write(`dist ${process.argv.slice(2).join(' ')}\\n`);\n");
  mkdirSync(join(dir, 'src', 'cli'), { recursive: true });
  // TypeScript only tsx can load: a type annotation.
  writeFileSync(
    join(dir, 'src', 'main.ts'),
    "const from: string = 'src';\nprocess.stdout.write(`${from} ${process.argv.slice(2).join(' ')}\\n`);\n",
  );
  writeFileSync(join(dir, 'src', 'cli', 'command.ts'), 'export {};\n');
  return dir;
}

const at = (seconds: number): Date => new Date(Date.UTC(2026, 0, 1, 0, 0, seconds));

function setTimes(dir: string, times: { stamp?: number; sources: number; nested?: number }): void {
  const stamp = join(dir, 'dist', '.stamp');
  if (times.stamp !== undefined) {
    writeFileSync(stamp, 'built');
    utimesSync(stamp, at(times.stamp), at(times.stamp));
  } else rmSync(stamp, { force: true });
  utimesSync(join(dir, 'src', 'main.ts'), at(times.sources), at(times.sources));
  const nested = times.nested ?? times.sources;
  utimesSync(join(dir, 'src', 'cli', 'command.ts'), at(nested), at(nested));
}

async function shim(dir: string): Promise<string> {
  const r = await runCommand(process.execPath, [join(dir, 'bin', 'sigward.mjs'), 'version', '--x'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  return r.stdout;
}

describe('bin/sigward.mjs: dist/ or the sources', () => {
  test('dist/ when built after every source; the sources when one is newer, when unbuilt; dist/ without src/', async () => {
    const dir = layout();
    try {
      setTimes(dir, { stamp: 10, sources: 5 });
      assert.equal(await shim(dir), 'dist version --x\n', 'built after every source');
      setTimes(dir, { stamp: 10, sources: 10 });
      assert.equal(await shim(dir), 'dist version --x\n', 'built in the same instant as the newest source');
      setTimes(dir, { stamp: 10, sources: 5, nested: 11 });
      assert.equal(await shim(dir), 'src version --x\n', 'a source in a subdirectory changed after the build');
      setTimes(dir, { sources: 5 });
      assert.equal(await shim(dir), 'src version --x\n', 'never built');
      setTimes(dir, { stamp: 1, sources: 5 });
      rmSync(join(dir, 'src'), { recursive: true });
      assert.equal(await shim(dir), 'dist version --x\n', 'an installed package: no sources to be newer');
    } finally {
      removeTempDir(dir);
    }
  });
});

describe('sigwardInProcess gives what the sigward process gives', () => {
  const key = join(ROOT, 'test', 'fixtures', 'encrypted-keys', 'cosign-keys_test-sigstore.key');

  test('an unknown command, a COSIGN_* variable of the test process, and one given in env', async () => {
    const both = async (args: string[], env?: Record<string, string>) => {
      const [child, here] = await Promise.all([
        sigwardCli(args, env === undefined ? {} : { env }),
        sigwardInProcess(args, env === undefined ? {} : { env }),
      ]);
      assert.deepEqual(here, child, args.join(' '));
      return here;
    };
    const unknown = await both(['nonsense']);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /^sigward: unknown command 'nonsense'\n\nsigward — /);
    const saved = process.env.COSIGN_PASSWORD;
    process.env.COSIGN_PASSWORD = 'not the password';
    try {
      // Not seen by either: no password and no terminal, rather than a wrong password.
      const stripped = await both(['public-key', '--key', key]);
      assert.equal(stripped.code, 2);
      assert.match(stripped.stderr, /^sigward public-key: no password: COSIGN_PASSWORD is not set/);
      const given = await both(['public-key', '--key', key], { COSIGN_PASSWORD: 'hello' });
      assert.equal(given.code, 0, given.stderr);
      assert.match(given.stdout, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
    } finally {
      if (saved === undefined) delete process.env.COSIGN_PASSWORD;
      else process.env.COSIGN_PASSWORD = saved;
    }
  });

  test('refuses a working directory and `serve`, saying what to use instead', async () => {
    await assert.rejects(sigwardInProcess(['version'], { cwd: ROOT }), /cannot run in .*use sigwardCli/);
    await assert.rejects(
      sigwardInProcess(['serve', '--config', 'x.yaml']),
      /start the daemon with startSigwardProcess/,
    );
  });
});
