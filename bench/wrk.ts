// wrk (Debian's wrk 4.1) as the HTTP load generator for small responses: it is C and keeps the client's share of
// the two cores small. Its text output is parsed here; a run with any non-2xx answer or socket error is refused,
// because a fast 404 would otherwise look like a fast registry.
import { runCommand } from '../test/helpers/proc.ts';

export interface WrkResult {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  readonly non2xx: number;
  readonly socketErrors: number;
}

export interface WrkOptions {
  readonly connections: number;
  readonly seconds: number;
  readonly headers?: Readonly<Record<string, string>>;
}

const UNIT_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** `486.00us`, `1.66ms`, `2.00s` -> milliseconds. */
function durationMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) throw new Error(`wrk printed a latency wrk.ts cannot read: ${JSON.stringify(text)}`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** Parse `wrk --latency` output (format of wrk 4.1). */
export function parseWrk(out: string): WrkResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(out);
  const p50 = /^\s+50%\s+(\S+)/m.exec(out);
  const p99 = /^\s+99%\s+(\S+)/m.exec(out);
  const total = /^\s*(\d+) requests in /m.exec(out);
  if (!rps || !p50 || !p99 || !total) {
    throw new Error(`wrk output lacks Requests/sec or the --latency distribution:\n${out.slice(0, 1500)}`);
  }
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1, 5).reduce((a, b) => a + Number(b), 0) : 0;
  return {
    rps: Number(rps[1]),
    p50Ms: durationMs(p50[1]!),
    p99Ms: durationMs(p99[1]!),
    requests: Number(total[1]),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors,
  };
}

/** One wrk run against `url`. One thread for one connection, two (the machine's cores) above that. */
export async function runWrk(url: string, opts: WrkOptions): Promise<WrkResult> {
  const threads = opts.connections > 1 ? 2 : 1;
  const args = [`-t${threads}`, `-c${opts.connections}`, `-d${opts.seconds}s`, '--latency', '--timeout', '10s'];
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}: ${v}`);
  args.push(url);
  const res = await runCommand('wrk', args, { timeoutMs: (opts.seconds + 30) * 1000 });
  if (res.code !== 0) throw new Error(`wrk ${args.join(' ')} exited ${res.code}: ${res.stderr || res.stdout}`);
  const parsed = parseWrk(res.stdout);
  if (parsed.non2xx > 0 || parsed.socketErrors > 0 || parsed.requests === 0) {
    throw new Error(
      `wrk against ${url} saw ${parsed.non2xx} non-2xx answers and ${parsed.socketErrors} socket errors in ` +
        `${parsed.requests} requests; the figure would be meaningless. Try it by hand: curl -si ${url}`,
    );
  }
  return parsed;
}
