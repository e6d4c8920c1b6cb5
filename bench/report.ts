// The printed table (each figure, its ratio to direct upstream, to the peer and, for blob figures, to the ceiling: a
// raw node relay measured in the same rounds; the targets with PASS/MISS) and the
// JSON file with every sample, the settings and the machine facts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Row } from './rows.ts';
import type { MachineFacts, Settings } from './settings.ts';
import { ratio } from './stats.ts';

export interface TargetResult {
  readonly row: string;
  /** e.g. `>= 0.75x direct` */
  readonly target: string;
  /** The ratio or value compared. */
  readonly measured: number;
  /** undefined: the figure is missing, so neither PASS nor MISS. */
  readonly pass: boolean | undefined;
  /** Unit of `measured` when it is not a ratio (`MiB`, `ms`, …). */
  readonly unit?: string;
}

interface TargetSpec {
  readonly row: string;
  readonly target: string;
  readonly measure: (r: Row) => number;
  readonly ok: (v: number) => boolean;
  /** How the compared value is printed (default: a ratio, `0.812x`). */
  readonly unit?: string;
}

const swOver =
  (other: 'direct' | 'peer' | 'ceiling') =>
  (r: Row): number =>
    ratio(r.values.sigward, r.values[other]);
const sw = (r: Row): number => r.values.sigward ?? NaN;

/** The manifest-load targets, for the unsigned (`manifest`) and the signed (`signed`) image alike. */
function loadSpecs(id: string, settings: Settings): TargetSpec[] {
  const specs: TargetSpec[] = [];
  for (const c of settings.connections) {
    specs.push({
      row: `${id}.tag.c${c}.rps`,
      target: '>= 0.75x direct',
      measure: swOver('direct'),
      ok: (v) => v >= 0.75,
    });
    specs.push({ row: `${id}.tag.c${c}.rps`, target: '>= 4x peer', measure: swOver('peer'), ok: (v) => v >= 4 });
    specs.push({ row: `${id}.digest.c${c}.rps`, target: '>= 3x direct', measure: swOver('direct'), ok: (v) => v >= 3 });
  }
  return specs;
}

/** The performance targets of the project: ratios to the two references, and absolute limits. */
function targetSpecs(settings: Settings): TargetSpec[] {
  const specs: TargetSpec[] = [...loadSpecs('manifest', settings)];
  specs.push({ row: 'blob.single.mbps', target: '>= 0.4x direct', measure: swOver('direct'), ok: (v) => v >= 0.4 });
  specs.push({ row: 'blob.single.mbps', target: '>= 0.9x ceiling', measure: swOver('ceiling'), ok: (v) => v >= 0.9 });
  specs.push({
    row: 'blob.concurrent.mbps',
    target: '>= 0.8x ceiling',
    measure: swOver('ceiling'),
    ok: (v) => v >= 0.8,
  });
  // The same two figures against the raw relay that also computes sha256 as it passes (what a digest check costs any
  // node relay here).
  specs.push({
    row: 'blob.single.mbps.sha256',
    target: '>= 0.9x ceiling',
    measure: swOver('ceiling'),
    ok: (v) => v >= 0.9,
  });
  specs.push({
    row: 'blob.concurrent.mbps.sha256',
    target: '>= 0.8x ceiling',
    measure: swOver('ceiling'),
    ok: (v) => v >= 0.8,
  });
  specs.push({ row: 'blob.concurrent.rss', target: '<= 160 MiB', measure: sw, ok: (v) => v <= 160, unit: 'MiB' });
  // blobs: redirect: the bytes go from the storage to the client; sigward writes only the redirects.
  for (const id of ['blob.redirect.single.mbps', 'blob.redirect.concurrent.mbps'])
    specs.push({ row: id, target: '>= 0.95x direct', measure: swOver('direct'), ok: (v) => v >= 0.95 });
  specs.push({ row: 'blob.redirect.written', target: '< 1 MB', measure: sw, ok: (v) => v < 1, unit: 'MB' });
  // blobs: cache, warm: from sigward's store on disk, against distribution's pull-through cache.
  for (const id of ['blob.cache.single.mbps', 'blob.cache.concurrent.mbps'])
    specs.push({ row: id, target: '>= 0.8x peer', measure: swOver('peer'), ok: (v) => v >= 0.8 });
  specs.push({ row: 'blob.cache.rss.growth', target: '<= 16 MiB', measure: sw, ok: (v) => v <= 16, unit: 'MiB' });
  // The signature gate. A cold pull may take 3 sequential upstream round trips (tag, `.sig` manifest, its
  // layer) plus 1 ms of sigward's own time; the depth is a count, so the measured fraction is rounded.
  specs.push({
    row: 'signed.cold.depth',
    target: '<= 3 round trips',
    measure: sw,
    ok: (v) => Math.round(v) <= 3,
    unit: 'round trips',
  });
  specs.push({ row: 'signed.cold.budget', target: '<= 1 ms', measure: sw, ok: (v) => v <= 1, unit: 'ms' });
  specs.push(...loadSpecs('signed', settings));
  specs.push({ row: 'signed.herd.sig', target: '<= 1 lookup', measure: sw, ok: (v) => v <= 1, unit: 'lookups' });
  specs.push({ row: 'verify.legacy.ops', target: '>= 10000/s', measure: sw, ok: (v) => v >= 10_000, unit: '/s' });
  // Keyless: a cold pull within 3 round trips + 2 ms, warm as fast as a key-signed pull (within noise), checks per
  // second on one core, and what the public-good root adds to the daemon's start.
  specs.push({ row: 'keyless.cold.budget', target: '<= 2 ms', measure: sw, ok: (v) => v <= 2, unit: 'ms' });
  specs.push({ row: 'keyless.warm.ms', target: '<= 1.1x key-signed', measure: swOver('direct'), ok: (v) => v <= 1.1 });
  specs.push({ row: 'verify.keyless.ops', target: '>= 2000/s', measure: sw, ok: (v) => v >= 2000, unit: '/s' });
  specs.push({ row: 'start.root.added', target: '< 300 ms', measure: sw, ok: (v) => v < 300, unit: 'ms' });
  // sget: throughput against direct, and memory flat in the artifact's size.
  specs.push({ row: 'sget.cold.mbps', target: '>= 0.3x direct', measure: swOver('direct'), ok: (v) => v >= 0.3 });
  // sget cold is a spool then a send: against the raw relay to disk followed by the warm send, in the same round.
  specs.push({
    row: 'sget.cold.vsceiling',
    target: '>= 0.8x ceiling',
    measure: swOver('ceiling'),
    ok: (v) => v >= 0.8,
  });
  // The same against the raw relay to disk that also hashes as it writes (the check sget cannot skip).
  specs.push({
    row: 'sget.cold.vshashceiling',
    target: '>= 0.8x ceiling',
    measure: swOver('ceiling'),
    ok: (v) => v >= 0.8,
  });
  specs.push({ row: 'sget.warm.mbps', target: '>= 0.5x direct', measure: swOver('direct'), ok: (v) => v >= 0.5 });
  specs.push({ row: 'sget.rss.growth', target: '<= 64 MiB', measure: sw, ok: (v) => v <= 64, unit: 'MiB' });
  // A hostile `.sig` (1000 layers naming one 1 MiB blob) costs one blob GET and a refusal, not 1000 of each.
  specs.push({ row: 'hostile.sig.ms', target: '< 1000 ms', measure: sw, ok: (v) => v < 1000, unit: 'ms' });
  specs.push({ row: 'hostile.sig.rss', target: '< 20 MiB', measure: sw, ok: (v) => v < 20, unit: 'MiB' });
  // The command line: a verify is dominated by node's start; save and load against skopeo moving the same image.
  specs.push({ row: 'cli.verify.ms', target: '< 400 ms', measure: sw, ok: (v) => v < 400, unit: 'ms' });
  specs.push({ row: 'cli.save.mbps', target: '>= 0.5x skopeo', measure: swOver('peer'), ok: (v) => v >= 0.5 });
  specs.push({ row: 'cli.load.mbps', target: '>= 0.5x skopeo', measure: swOver('peer'), ok: (v) => v >= 0.5 });
  return specs;
}

export function evaluateTargets(rows: readonly Row[], settings: Settings): TargetResult[] {
  return targetSpecs(settings).map((s) => {
    const r = rows.find((x) => x.id === s.row);
    const measured = r ? s.measure(r) : NaN;
    return {
      row: s.row,
      target: s.target,
      measured,
      pass: Number.isFinite(measured) ? s.ok(measured) : undefined,
      ...(s.unit ? { unit: s.unit } : {}),
    };
  });
}

function num(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** The compared value with enough digits that 3.997 against ">= 4" does not print as 4.00. */
function shown(t: TargetResult): string {
  if (!Number.isFinite(t.measured)) return '-';
  if (t.unit === undefined) return `${t.measured.toFixed(3)}x`;
  return `${Math.abs(t.measured) >= 1000 ? t.measured.toFixed(0) : t.measured.toFixed(2)} ${t.unit}`;
}

const times = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}x` : '-');

/** The table as text lines; ratios are sigward / other of the raw figures (for latency and memory, lower wins). */
export function formatTable(rows: readonly Row[], targets: readonly TargetResult[]): string {
  const head = [
    'figure',
    'unit',
    'direct',
    'sigward',
    'peer',
    'ceiling',
    'sw/direct',
    'sw/peer',
    'sw/ceiling',
    'target',
  ];
  const lines: string[][] = [head];
  for (const r of rows) {
    const t = targets
      .filter((x) => x.row === r.id)
      .map((x) => `${x.target}: ${shown(x)} ${x.pass === undefined ? 'N/A' : x.pass ? 'PASS' : 'MISS'}`)
      .join('; ');
    lines.push([
      r.label,
      r.unit,
      num(r.values.direct),
      num(r.values.sigward),
      num(r.values.peer),
      num(r.values.ceiling),
      times(ratio(r.values.sigward, r.values.direct)),
      times(ratio(r.values.sigward, r.values.peer)),
      times(ratio(r.values.sigward, r.values.ceiling)),
      t,
    ]);
  }
  const widths = head.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const fmt = (l: string[]): string =>
    l
      .map((cell, i) => (i >= 2 && i <= 8 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(lines[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.slice(1).map(fmt)].join('\n');
}

export interface BenchResult {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly settings: Settings;
  readonly machine: MachineFacts;
  readonly notes: readonly string[];
  readonly rows: readonly Row[];
  readonly targets: readonly TargetResult[];
  readonly extra: Readonly<Record<string, unknown>>;
}

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

/** Write bench/results/<ISO timestamp>.json (colons and dots made dashes for portable file names). */
export function writeResult(result: BenchResult): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = `${RESULTS_DIR}${result.startedAt.replace(/[:.]/g, '-')}${result.settings.quick ? '-quick' : ''}.json`;
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
