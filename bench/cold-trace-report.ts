// Sums a timeline written by cold-trace.mjs: for each client GET of a manifest whose path matches a pattern, the
// steps in order (client request in, each upstream request created / head sent / response head / end, answer out)
// and, per step, the median over the pulls. Usage:
//   node --import tsx bench/cold-trace-report.ts <trace.json> [path regexp, default: the cold legacy pulls]
// A step that starts right after an upstream answer ended and ends when the next request is created (or the answer
// goes out) is sigward's own work between two round trips; `own` adds those up per pull. Pulls that made one upstream
// request (the same tag again: verdict cached) are reported apart from the cold ones.
import { readFileSync } from 'node:fs';
import { classify } from './forwarder.ts';
import { median } from './stats.ts';

type Event = [number, 'in' | 'out' | 'up' | 'sent' | 'hdr' | 'end', number, (string | number)?];

const [file, pattern] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: cold-trace-report.ts <trace.json> [path regexp]');
const match = new RegExp(pattern ?? 'manifests/cold-legacy-(direct|fwd)-\\d+$');
const events = JSON.parse(readFileSync(file, 'utf8')) as Event[];

const groups = {
  cold: { steps: new Map<string, number[]>(), own: [] as number[] },
  warm: { steps: new Map<string, number[]>(), own: [] as number[] },
};

for (const [i, [t0, kind, id, url]] of events.entries()) {
  if (kind !== 'in' || !match.test(String(url).split('?')[0] ?? '')) continue;
  // The pulls are measured one at a time: what follows, up to this request's answer, belongs to it.
  const seq: Event[] = [];
  for (const e of events.slice(i + 1)) {
    if (e[1] === 'in') break;
    seq.push(e);
    if (e[1] === 'out' && e[2] === id) break;
  }
  if (seq.at(-1)?.[1] !== 'out') continue;
  const g = groups[seq.filter((e) => e[1] === 'up').length > 1 ? 'cold' : 'warm'];
  const add = (key: string, ms: number): void => void (g.steps.get(key) ?? g.steps.set(key, []).get(key)!).push(ms);
  const kinds = new Map<number, string>();
  let prev = { label: 'in', t: t0 };
  let inFlight = 0;
  let mine = 0;
  for (const e of seq) {
    if (e[1] === 'up') kinds.set(e[2], classify(String(e[3])));
    const label = e[1] === 'out' ? 'out' : `${e[1]} ${kinds.get(e[2]) ?? '?'}`;
    // Time with no upstream request open is sigward's (and the hop's): summed as `own`.
    if (inFlight === 0) mine += e[0] - prev.t;
    if (e[1] === 'up') inFlight++;
    if (e[1] === 'end') inFlight--;
    add(`${prev.label} -> ${label}`, e[0] - prev.t);
    prev = { label, t: e[0] };
  }
  g.own.push(mine);
  add('total', prev.t - t0);
}

for (const [name, { steps, own }] of Object.entries(groups)) {
  if (own.length === 0) continue;
  process.stdout.write(`${name}: ${own.length} pulls matching ${String(match)}; medians in ms\n`);
  for (const [key, v] of steps)
    process.stdout.write(`  ${key.padEnd(44)} ${median(v).toFixed(3).padStart(8)}  (n=${v.length})\n`);
  process.stdout.write(`  ${'own (no upstream request open)'.padEnd(44)} ${median(own).toFixed(3).padStart(8)}\n`);
}
