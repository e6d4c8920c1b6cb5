// Long-running child processes for tests (registries, containerd, the daemon itself): output to a log file, a
// readiness probe with a deadline, a graceful stop, and a safety net so nothing outlives the test process.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive } from '../../src/sget/scan.ts';

export interface StartOptions {
  /** Short name used in the log file name and in error messages, e.g. `registry`. */
  name: string;
  cmd: string;
  args?: readonly string[];
  /** Directory that receives `<name>.log`; when omitted, a fresh temp dir that stop() removes. */
  dir?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolves true once the process serves; polled until `timeoutMs`. */
  ready?: () => Promise<boolean>;
  timeoutMs?: number;
}

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Exit code, or the signal name, once the process has exited; undefined while it runs. */
  readonly exit: number | string | undefined;
  /** The last `lines` lines of the log file. */
  logTail(lines?: number): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone (and its own temp dir removed). Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let netInstalled = false;

/** Kill every child still running and remove every temp dir; runs synchronously at process exit. */
function safetyNet(): void {
  for (const child of running) signal(child, 'SIGKILL');
  running.clear();
  for (const dir of tempDirs) removeWithMarker(dir);
  tempDirs.clear();
}

function installSafetyNet(): void {
  if (netInstalled) return;
  netInstalled = true;
  process.on('exit', safetyNet);
  // An interrupted run (Ctrl-C, the test runner's timeout) must not leave registries or containerd behind.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      safetyNet();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

/** Send a signal to the child's process group (it is started detached, so it leads one), else to the child. */
function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    try {
      child.kill(sig);
    } catch {
      /* already gone */
    }
  }
}

/** Create a directory under os.tmpdir(); removed by removeTempDir() or, at the latest, when the process exits. Next
 * to it, `<dir>.owner` holds this process's pid: a process killed with SIGKILL runs no exit handler, and
 * sweepStaleTempDirs() then knows the directory (a benchmark's registries can hold tens of GiB) is nobody's. */
export function tempDir(prefix: string): string {
  installSafetyNet();
  const dir = mkdtempSync(join(tmpdir(), `sigward-${prefix}-`));
  writeFileSync(`${dir}${OWNER_SUFFIX}`, `${process.pid}\n`);
  tempDirs.add(dir);
  return dir;
}

/** Remove a directory made by tempDir(). */
export function removeTempDir(dir: string): void {
  removeWithMarker(dir);
  tempDirs.delete(dir);
}

const OWNER_SUFFIX = '.owner';

function removeWithMarker(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  rmSync(`${dir}${OWNER_SUFFIX}`, { force: true });
}

/**
 * Remove the directories tempDir() made under `root` for processes that are gone (killed before their exit handler
 * ran). Only directories whose `.owner` file names a pid no process has are removed; anything without one, or owned
 * by a live process (another test run, another benchmark), is left alone. Returns the directories removed.
 */
export function sweepStaleTempDirs(root = tmpdir()): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(root)) {
    if (!name.startsWith('sigward-') || !name.endsWith(OWNER_SUFFIX)) continue;
    const marker = join(root, name);
    let pid: number;
    try {
      pid = Number(readFileSync(marker, 'utf8').trim());
    } catch {
      continue; // removed meanwhile by its owner
    }
    if (!Number.isInteger(pid) || pid <= 0 || processAlive(pid)) continue;
    const dir = marker.slice(0, -OWNER_SUFFIX.length);
    removeWithMarker(dir);
    removed.push(dir);
  }
  return removed;
}

/** Listen on 127.0.0.1 with an OS-chosen port; the answer is the port and `127.0.0.1:PORT`. Every test server
 * (and the benchmark's forwarder) stays on loopback through this. */
export async function listenOnLoopback(server: Server): Promise<{ port: number; host: string }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('listenOnLoopback: the OS returned no TCP address');
  return { port: addr.port, host: `127.0.0.1:${addr.port}` };
}

/** Ask the OS for a free TCP port on 127.0.0.1 (listen on port 0, read it, close). */
export async function freePort(): Promise<number> {
  const server = createServer();
  const { port } = await listenOnLoopback(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Last `lines` lines of a text file, or '' when it cannot be read. */
export function tailFile(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Poll `probe` until it resolves true; reject with `what` after `timeoutMs`. A throwing probe counts as "not yet". */
export async function waitFor(probe: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(delay);
  }
}

/** Start a long-running process, log to `<dir>/<name>.log`, wait for `ready`; fails with the log tail. */
export async function startProcess(opts: StartOptions): Promise<Proc> {
  installSafetyNet();
  const ownDir = opts.dir === undefined; // a temp dir made here is removed by stop()
  const dir = opts.dir ?? tempDir(opts.name);
  const logFile = join(dir, `${opts.name}.log`);
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(opts.cmd, opts.args ?? [], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: true, // own process group: stop() reaches grandchildren, and a terminal Ctrl-C does not race us
    });
  } finally {
    closeSync(fd);
  }
  running.add(child);
  // Unreferenced: a test file that forgets stop() still exits, and the safety net kills the child then.
  child.unref();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<Error>((resolve) => child.on('error', resolve));
  void exited.then(() => running.delete(child));

  const halt = async (graceMs: number): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    child.ref(); // keep the event loop alive until the exit is seen, also after the SIGKILL timer has fired
    signal(child, 'SIGTERM');
    const timer = setTimeout(() => signal(child, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  const proc: Proc = {
    name: opts.name,
    get pid() {
      return child.pid ?? -1;
    },
    logFile,
    get exit() {
      return child.exitCode ?? child.signalCode ?? undefined;
    },
    logTail: (lines = 40) => tailFile(logFile, lines),
    async stop(graceMs = 5_000) {
      await halt(graceMs);
      if (ownDir) removeTempDir(dir);
    },
  };

  const fail = async (why: string): Promise<never> => {
    await halt(1_000);
    const tail = proc.logTail();
    if (ownDir) removeTempDir(dir);
    throw new Error(`${opts.name} (${opts.cmd}) ${why}; log ${logFile}:\n${tail || '(empty)'}`);
  };
  const early = await Promise.race([spawnError, sleep(0).then(() => undefined)]);
  if (early) {
    running.delete(child);
    return fail(`could not be started: ${early.message}`);
  }
  if (opts.ready) {
    const probe = opts.ready;
    // An exited process ends the wait at once (true), so the error names the exit instead of a timeout.
    const settled = (): Promise<boolean> => (proc.exit !== undefined ? Promise.resolve(true) : probe());
    try {
      await waitFor(settled, `${opts.name} to become ready`, opts.timeoutMs ?? 15_000);
    } catch (err) {
      return fail((err as Error).message);
    }
    if (proc.exit !== undefined) return fail(`exited with ${String(proc.exit)} before it was ready`);
  }
  return proc;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a short command to completion (killed after `timeoutMs`); never throws for a non-zero exit. */
export function runCommand(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    installSafetyNet();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    const timeoutMs = opts.timeoutMs ?? 120_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      running.delete(child);
      reject(new Error(`${cmd} could not be run: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      running.delete(child);
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({
        code: code ?? 128,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: timedOut ? `${stderr}\n(killed after ${timeoutMs} ms)` : sig ? `${stderr}\n(killed by ${sig})` : stderr,
      });
    });
  });
}
