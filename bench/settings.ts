// What one benchmark run does (full or BENCH_QUICK=1), progress lines with elapsed time, and the machine facts
// saved next to the figures (figures from different machines or hours are not comparable, ratios of one run are).
import { execFileSync } from 'node:child_process';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';

export interface Settings {
  readonly quick: boolean;
  /** Alternation rounds for the manifest and single-blob scenarios (the median of these is reported). */
  readonly rounds: number;
  /** Alternation rounds for the concurrent big-blob scenario. Each moves concurrency x blob size per contender (20 GiB
   * in a full run, minutes through sigward), so a full run does one round: its figure is the RSS peak, not a ratio. */
  readonly bigRounds: number;
  /** wrk duration of one measurement, seconds. */
  readonly wrkSeconds: number;
  /** wrk connection counts measured for manifests. */
  readonly connections: readonly number[];
  /** Size of each big blob, MiB. */
  readonly blobMiB: number;
  /** Simultaneous big-blob GETs. */
  readonly concurrency: number;
  /** 'auto' picks distinct blobs when the disk has room for them twice (upstream + the peer's cache). */
  readonly blobsMode: 'auto' | 'distinct' | 'same';
  /** Cold signed pulls per variant (each on an image sigward has never seen; the median is reported). */
  readonly coldRounds: number;
  /** Delay the counting forwarder adds to every upstream request when measuring the critical-path depth, ms. */
  readonly delayMs: number;
  /** Simultaneous cold GETs of one new signed digest in the coalescing scenario. */
  readonly herd: number;
  /** Length of one round of the in-process verification micro-benchmark, ms (>= 1000). */
  readonly microMs: number;
  /** BENCH_ONLY: run only the scenarios whose name contains one of these (case-insensitive); all when absent. */
  readonly only?: readonly string[];
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${name}=${raw} is not a positive integer; unset it or give e.g. ${fallback}`);
  return n;
}

/** Full run by default; BENCH_QUICK=1 shrinks everything for a smoke run. BENCH_* variables override single knobs. */
export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  const mode = env.BENCH_BLOBS ?? 'auto';
  if (mode !== 'auto' && mode !== 'distinct' && mode !== 'same') {
    throw new Error(`BENCH_BLOBS=${mode} is not one of auto, distinct, same`);
  }
  return {
    quick,
    rounds: positiveInt(env, 'BENCH_ROUNDS', quick ? 2 : 3),
    bigRounds: positiveInt(env, 'BENCH_BIG_ROUNDS', quick ? 2 : 1),
    wrkSeconds: positiveInt(env, 'BENCH_WRK_SECONDS', quick ? 1 : 4),
    connections: [1, 32],
    blobMiB: positiveInt(env, 'BENCH_BLOB_MIB', quick ? 64 : 1024),
    concurrency: positiveInt(env, 'BENCH_CONCURRENCY', 20),
    blobsMode: mode,
    coldRounds: positiveInt(env, 'BENCH_COLD_ROUNDS', quick ? 5 : 15),
    delayMs: positiveInt(env, 'BENCH_DELAY_MS', 20),
    herd: positiveInt(env, 'BENCH_HERD', 200),
    microMs: 1000,
    ...(env.BENCH_ONLY
      ? {
          only: env.BENCH_ONLY.split(',')
            .map((w) => w.trim().toLowerCase())
            .filter((w) => w !== ''),
        }
      : {}),
  };
}

const started = Date.now();

/** One progress line: `[m:ss] message` (the run takes minutes; a silent terminal looks hung). */
export function progress(message: string): void {
  const s = Math.round((Date.now() - started) / 1000);
  process.stdout.write(`[${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}] ${message}\n`);
}

export interface MachineFacts {
  readonly node: string;
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memTotalMiB: number;
  readonly memFreeMiB: number;
  readonly memAvailableMiB: number | undefined;
  /** 1, 5, 15 minute load averages at the start: other work on the machine skews absolute figures. */
  readonly loadavg: readonly number[];
  readonly kernel: string;
  readonly distribution: string;
  readonly wrk: string;
  readonly curl: string;
}

function firstLine(cmd: string, args: string[]): string {
  try {
    // wrk -v exits 1 after printing its version; the text is what matters.
    return (
      execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
        .split('\n')[0]
        ?.trim() ?? ''
    );
  } catch (err) {
    const out = (err as { stdout?: string }).stdout ?? '';
    return out.split('\n')[0]?.trim() || 'unknown';
  }
}

function memAvailableMiB(): number | undefined {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : undefined;
}

export function machineFacts(): MachineFacts {
  return {
    node: process.version,
    nproc: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memTotalMiB: Math.round(totalmem() / 2 ** 20),
    memFreeMiB: Math.round(freemem() / 2 ** 20),
    memAvailableMiB: memAvailableMiB(),
    loadavg: loadavg().map((l) => Math.round(l * 100) / 100),
    kernel: firstLine('uname', ['-r']),
    distribution: firstLine('docker-registry', ['--version']),
    wrk: firstLine('wrk', ['-v']),
    curl: firstLine('curl', ['--version']),
  };
}
