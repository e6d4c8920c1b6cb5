// `sigward reload [--config FILE] [--url URL]`: make the running daemon load its config file again, and say whether
// it applied it. The daemon is found through its /readyz (URL, or the `listen` of FILE, else on Linux the local
// `sigward serve` running FILE wherever it listens: find-daemon.ts), which reports its pid, its
// config file and the reload requests it has answered; the command checks that the pid is a local `sigward serve`
// (Linux: /proc/PID/cmdline) running that file, sends it SIGHUP, and reads /readyz until the attempt after its
// signal is reported. Only a user allowed to signal the daemon (its own user, or root) can make it reload: nothing
// reachable over the network triggers one.
// Exit codes: 0 applied; 1 the daemon refused the new config (its reason printed; the old one keeps serving);
// 2 bad usage, no daemon found, not allowed to signal it, or no outcome reported in time.
import { readFileSync, realpathSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SigwardError } from '../errors.ts';
import type { ReadinessReport, ReloadResult, ReloadStatus } from '../http/readiness.ts';
import { DEFAULT_LISTEN } from '../config/types.ts';
import { parseListen } from '../config/parse.ts';
import { Problems } from '../util/yaml-reader.ts';
import { EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, exitOnBadInput } from './exit-codes.ts';
import type { Io } from './io.ts';
import { parseFlags } from './flags.ts';
import { findLocalDaemons, isServeCommand } from './find-daemon.ts';

export const RELOAD_USAGE = `usage: sigward reload [--config FILE] [--url URL] [--wait SECONDS]

Makes the running \`sigward serve\` load its configuration file again (what SIGHUP does) and reports the outcome.
The daemon is found at URL (its /readyz), or at the \`listen\` address of FILE (127.0.0.1 for a wildcard address),
else (Linux) as the local \`sigward serve --config FILE\` process, wherever it listens (--listen at its start, or a
listen changed since: that takes a restart); with --config, the daemon must be running that same file. It must be a local process this user may signal.
--wait: how long to wait for the outcome (default 120: a reload fetches TUF-kept trust roots again).

exit codes: 0 the new configuration is in force; 1 the daemon refused it and keeps the one it had (the reason is
printed); 2 bad usage, no daemon found, not allowed to signal it, or no outcome in time.`;

const POLL_MS = 100;
const ASK_TIMEOUT_MS = 5_000;

/** Thrown for "no daemon to reload" (exit 2), with the line to print. */
class NotReachable extends Error {}

export async function reloadCommand(argv: readonly string[], io: Io): Promise<number> {
  return exitOnBadInput('reload', io, async () => {
    const flags = parseFlags(argv, { config: 'string', url: 'string', wait: 'string', help: 'boolean' }, RELOAD_USAGE);
    if (flags.help) {
      io.out(RELOAD_USAGE);
      return EXIT_OK;
    }
    if (flags._.length > 0) throw new SigwardError('CONFIG_INVALID', `unexpected argument ${flags._[0]}`);
    const config = typeof flags.config === 'string' ? flags.config : undefined;
    const waitMs = waitOption(flags.wait);
    const url = typeof flags.url === 'string' ? urlOption(flags.url) : undefined;
    if (url === undefined && config === undefined)
      throw new SigwardError('CONFIG_INVALID', 'give --config FILE or --url URL');
    try {
      const found = url === undefined && config !== undefined ? await byConfig(config, io) : undefined;
      return await reload(found?.base ?? (url as URL), config, waitMs, io, found?.before);
    } catch (e) {
      if (!(e instanceof NotReachable)) throw e;
      io.err(`sigward reload: ${e.message}`);
      return EXIT_BAD_INPUT;
    }
  });
}

/** The daemon of `config`: at the file's `listen` address, else (Linux) the local `sigward serve` running that file,
 * wherever it listens (started with --listen, or the file's `listen` changed since it started). */
async function byConfig(config: string, io: Io): Promise<{ base: URL; before: Readiness }> {
  const base = urlOfConfig(config);
  let atListen: NotReachable;
  try {
    return { base, before: await ask(base) };
  } catch (e) {
    if (!(e instanceof NotReachable)) throw e;
    atListen = e;
  }
  const found: { pid: number; url: URL; before: Readiness }[] = [];
  for (const daemon of findLocalDaemons(config)) {
    for (const url of daemon.urls) {
      const before = await ask(url).catch(() => undefined);
      if (before?.reload.pid !== daemon.pid) continue;
      found.push({ pid: daemon.pid, url, before });
      break;
    }
  }
  if (found.length > 1) {
    // Which one is meant is not for sigward to guess: reloading one would leave the other on the old file.
    throw new NotReachable(
      `${atListen.message}\n${found.length} local sigward serve processes run ${config}: ` +
        `${found.map((d) => `pid ${d.pid} on ${d.url.origin}`).join(', ')}. Name the one to reload: ` +
        `sigward reload --config ${config} --url http://HOST:PORT`,
    );
  }
  const [one] = found;
  if (one !== undefined) {
    io.err(
      `sigward reload: the daemon running ${config} (pid ${one.pid}) listens on ${one.url.origin}, not on the file's ` +
        `listen address ${base.origin} (started with --listen, or listen changed since it started: that takes a restart)`,
    );
    return { base: one.url, before: one.before };
  }
  throw new NotReachable(
    `${atListen.message}\nThat is the listen address in ${config}, and no local sigward serve running that file ` +
      `was found listening elsewhere. If the daemon listens on another address (started with --listen, or listen ` +
      `changed in the file since it started), give it: sigward reload --config ${config} --url http://HOST:PORT`,
  );
}

type Readiness = ReadinessReport & { reload: ReloadStatus };

async function reload(
  base: URL,
  config: string | undefined,
  waitMs: number,
  io: Io,
  asked?: Readiness,
): Promise<number> {
  const before = asked ?? (await ask(base));
  const status = before.reload;
  if (config !== undefined) checkSameFile(config, before.config?.file, base);
  checkIsServe(status.pid);
  try {
    process.kill(status.pid, 'SIGHUP');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new NotReachable(
      code === 'EPERM'
        ? `not allowed to signal the daemon (pid ${status.pid}): run this as its user or as root`
        : `cannot signal the daemon (pid ${status.pid}): ${code ?? String(e)}`,
    );
  }
  const deadline = Date.now() + waitMs;
  for (;;) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    let now: ReloadStatus;
    try {
      now = (await ask(base)).reload;
    } catch (e) {
      // A daemon busy reloading still answers; one that stopped answering is reported when the wait is over.
      if (Date.now() > deadline) throw e;
      continue;
    }
    if (now.pid !== status.pid) throw new NotReachable(`the daemon at ${base.origin} was restarted (pid ${now.pid})`);
    const last = now.last;
    if (last !== undefined && last.request > status.requests) return report(last, io);
    if (Date.now() > deadline)
      throw new NotReachable(`the daemon (pid ${status.pid}) reported no reload outcome within ${waitMs / 1000} s`);
  }
}

function report(last: ReloadResult, io: Io): number {
  if (!last.ok) {
    io.err(
      `sigward reload: the daemon refused the new configuration and keeps serving generation ${last.generation} ` +
        `(policy ${last.policyHash.slice(0, 12)}):\n${last.error ?? 'no reason given'}`,
    );
    return EXIT_FAILED;
  }
  io.out(`reloaded: generation ${last.generation}, policy ${last.policyHash.slice(0, 12)}`);
  if (last.restartNeeded && last.restartNeeded.length > 0)
    io.err(
      `sigward reload: changed settings that need a restart to apply (their old values stay in force): ${last.restartNeeded.join(', ')}`,
    );
  return EXIT_OK;
}

/** The daemon's /readyz (ready or not, both are JSON), which must report a reload state. */
async function ask(base: URL): Promise<Readiness> {
  const url = new URL('/readyz', base);
  let body: unknown;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(ASK_TIMEOUT_MS), redirect: 'error' });
    body = await res.json();
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    throw new NotReachable(
      `no sigward daemon answers at ${url.href}: ${cause ?? (e instanceof Error ? e.message : String(e))}`,
    );
  }
  const reload = (body as { reload?: Partial<ReloadStatus> } | null)?.reload;
  if (typeof reload?.pid !== 'number' || typeof reload.requests !== 'number')
    throw new NotReachable(
      `${url.href} reports no reload state: it is not a \`sigward serve\` daemon, or one too old to reload`,
    );
  return body as Readiness;
}

/** With --config: the daemon must be running that file (compared as real paths when the daemon's is absolute). */
function checkSameFile(config: string, running: string | undefined, base: URL): void {
  if (running === undefined) throw new NotReachable(`the daemon at ${base.origin} reports no configuration file`);
  if (!isAbsolute(running)) return;
  const real = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  if (real(config) !== real(running))
    throw new NotReachable(`the daemon at ${base.origin} runs ${running}, not ${resolve(config)}: not signalling it`);
}

/** On Linux, the pid must be a `sigward serve` process: a server that only claims to be sigward cannot have some
 * other process signalled. In a container sigward is pid 1, which is then checked like any other. */
function checkIsServe(pid: number): void {
  if (!Number.isSafeInteger(pid) || pid < 1) throw new NotReachable(`the daemon reports an unusable pid ${pid}`);
  if (process.platform !== 'linux') {
    // No way to look here: pid 1 (init, unless sigward is a container's only process) is never signalled blind.
    if (pid === 1) throw new NotReachable('the daemon reports pid 1: signal it yourself (kill -HUP) if that is right');
    return;
  }
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    throw new NotReachable(`the daemon's pid ${pid} is not a process of this machine that this user can see`);
  }
  if (!isServeCommand(args)) throw new NotReachable(`pid ${pid} is not a \`sigward serve\` process: not signalling it`);
}

function urlOption(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SigwardError('CONFIG_INVALID', `--url ${value} is not a URL (http://HOST:PORT)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new SigwardError('CONFIG_INVALID', `--url ${value}: only http:// and https:// URLs`);
  return url;
}

/** The daemon's address from the config file's `listen` (the rest of the file is the daemon's to check). */
function urlOfConfig(file: string): URL {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new SigwardError('CONFIG_INVALID', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let listen = DEFAULT_LISTEN;
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    doc = undefined; // the daemon reports the YAML error; its address is then the default unless --url says
  }
  const value = (doc as { listen?: unknown } | null | undefined)?.listen;
  if (typeof value === 'string') {
    const parsed = parseListen(value, ['listen'], new Problems());
    if (parsed === undefined) throw new SigwardError('CONFIG_INVALID', `${file}: listen ${value} is not HOST:PORT`);
    listen = parsed;
  }
  const host =
    listen.host === '0.0.0.0' || listen.host === ''
      ? '127.0.0.1'
      : listen.host === '::'
        ? '[::1]'
        : listen.host.includes(':')
          ? `[${listen.host}]`
          : listen.host;
  return new URL(`http://${host}:${listen.port}`);
}

function waitOption(value: string | boolean | string[] | undefined): number {
  if (value === undefined) return 120_000;
  const n = typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1))
    throw new SigwardError('CONFIG_INVALID', `--wait ${String(value)}: a whole number of seconds, 1 or more`);
  return n * 1000;
}
