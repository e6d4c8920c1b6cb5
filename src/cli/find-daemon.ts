// Where a local `sigward serve` running a given config file listens, for `sigward reload --config FILE` when nothing
// answers at the file's `listen`: the daemon was started with --listen, or the file's `listen` was changed since it
// started (a listen change takes a restart). Linux only (/proc): the processes whose command line is `sigward serve
// --config FILE` (the path resolved in the process's own working directory), and the TCP sockets each of them
// listens on (its /proc/PID/fd links matched to /proc/PID/net/tcp and tcp6). Only processes this user may inspect are
// seen, which are the ones it may signal. The caller still asks each address's /readyz and keeps the one that
// reports that pid.
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';

export interface LocalDaemon {
  readonly pid: number;
  /** http://HOST:PORT for each TCP socket it listens on (a wildcard address as loopback). */
  readonly urls: readonly URL[];
}

/** Whether a command line (its arguments) is a `sigward serve` process. */
export function isServeCommand(args: readonly string[]): boolean {
  return args.some((a) => /(?:^|\/)(?:sigward(?:\.mjs)?|main\.[jt]s)$/.test(a)) && args.includes('serve');
}

/** The `--config` value of a command line (`--config FILE` or `--config=FILE`; the last one counts). */
function configArg(args: readonly string[]): string | undefined {
  let out: string | undefined;
  args.forEach((a, i) => {
    if (a === '--config') out = args[i + 1];
    else if (a.startsWith('--config=')) out = a.slice('--config='.length);
  });
  return out;
}

const realOr = (p: string): string => {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
};

/** The local `sigward serve` processes running `config`, with where each listens. Empty off Linux. */
export function findLocalDaemons(config: string): LocalDaemon[] {
  if (process.platform !== 'linux') return [];
  const wanted = realOr(config);
  const out: LocalDaemon[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const file = configArg(args);
      if (!isServeCommand(args) || file === undefined) continue;
      if (realOr(resolve(readlinkSync(`/proc/${entry}/cwd`), file)) !== wanted) continue;
      out.push({ pid: Number(entry), urls: listeningUrls(entry) });
    } catch {
      // gone, or not this user's to inspect
    }
  }
  return out;
}

/** The TCP sockets process `pid` listens on, as URLs. */
function listeningUrls(pid: string): URL[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1] !== undefined) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const urls: URL[] = [];
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const [addr, port] = (f[1] ?? '').split(':');
      // st 0A is LISTEN; field 9 is the socket's inode.
      if (f[3] !== '0A' || addr === undefined || port === undefined || !inodes.has(f[9] ?? '')) continue;
      urls.push(new URL(`http://${hostOf(addr)}:${parseInt(port, 16)}`));
    }
  }
  return urls;
}

/** A /proc/net address (hex, each 32-bit word in host order: little-endian here) as a URL host; wildcard -> loopback. */
function hostOf(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => [6, 4, 2, 0].map((i) => parseInt(w.slice(i, i + 2), 16)));
  if (bytes.length === 4) return bytes.every((b) => b === 0) ? '127.0.0.1' : bytes.join('.');
  if (bytes.every((b) => b === 0)) return '[::1]';
  const v4mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (v4mapped) return bytes.slice(12).every((b) => b === 0) ? '127.0.0.1' : bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return `[${groups.join(':')}]`;
}
