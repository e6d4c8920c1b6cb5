// N simultaneous big-blob GETs (N = 20 by default): aggregate throughput, and sigward's peak resident memory while
// it streams them all (VmRSS sampled every 100 ms plus VmHWM, see rss.ts). Memory must stay flat in the blob size:
// a proxy that buffers a blob would show N x blob size here. The ceiling (a raw node relay, relay-server.ts) takes its
// turn in every round, so sigward's aggregate can be read against what any node relay reaches in the same run, and so
// does the hashing ceiling (the same relay computing each body's sha256 as it passes).
import { BIG_REPO, type Fixtures } from '../fixtures.ts';
import { row, type Row } from '../rows.ts';
import { sampleRss, type RssReport } from '../rss.ts';
import { progress, type Settings } from '../settings.ts';
import { sha256Url } from '../relay.ts';
import { CONTENDERS, type AnyContender as Contender, type Stack } from '../stack.ts';
import { curlMany, type ManyTransfers } from '../transfer.ts';

export interface ConcurrentResult {
  readonly rows: Row[];
  /** Every sigward memory report of this scenario, in round order. */
  readonly rss: readonly RssReport[];
}

export async function concurrentScenario(stack: Stack, fx: Fixtures, settings: Settings): Promise<ConcurrentResult> {
  const n = fx.concurrent.length;
  const urls = (c: Contender | 'sha256'): string[] =>
    fx.concurrent.map((b) =>
      c === 'sha256'
        ? sha256Url(stack.relay, BIG_REPO, `blobs/${b.digest}`)
        : stack.url(c, BIG_REPO, `blobs/${b.digest}`),
    );
  const size = fx.single.size;
  const what = `${n} x ${settings.blobMiB} MiB`;
  let cold: ManyTransfers | undefined;
  if (fx.distinct) {
    progress(`${what}: peer cold pass (it fetches every blob from the upstream and stores it)`);
    cold = await curlMany(urls('peer'), size);
    progress(`${what}: peer cold ${cold.mbps.toFixed(0)} MB/s aggregate in ${cold.seconds.toFixed(1)} s`);
  }
  const runs: Record<Contender | 'sha256', ManyTransfers[]> = {
    direct: [],
    sigward: [],
    peer: [],
    ceiling: [],
    sha256: [],
  };
  const rss: RssReport[] = [];
  for (let r = 0; r < settings.bigRounds; r++) {
    for (const c of [...CONTENDERS, 'ceiling', 'sha256'] as const) {
      const sampler = c === 'sigward' ? sampleRss(stack.sigward.pid) : undefined;
      const res = await curlMany(urls(c), size);
      const mem = sampler?.stop();
      if (mem) rss.push(mem);
      runs[c].push(res);
      const memText = mem ? `, peak RSS ${mem.peakSampledMiB} MiB sampled / ${mem.hwmMiB} MiB VmHWM` : '';
      progress(
        `${what} round ${r + 1}/${settings.bigRounds}, ${c}: ${res.mbps.toFixed(0)} MB/s aggregate in ${res.seconds.toFixed(1)} s${memText}`,
      );
    }
  }
  const agg = (c: Contender | 'sha256'): number[] => runs[c].map((t) => t.mbps);
  const slow = (c: Contender): number[] => runs[c].map((t) => t.slowestSeconds);
  const label = `${what} concurrent GETs`;
  const blobs = fx.distinct ? `${n} distinct blobs` : `the same blob ${n} times`;
  const peakMiB = rss.map((m) => Math.max(m.peakSampledMiB, m.hwmScoped ? m.hwmMiB : 0));
  const rows = [
    row(
      'blob.concurrent.mbps',
      label,
      'MB/s aggr',
      'higher',
      { direct: agg('direct'), sigward: agg('sigward'), peer: agg('peer'), ceiling: agg('ceiling') },
      { note: `${blobs}; ceiling column: the raw node relay in the same rounds` },
    ),
    row(
      'blob.concurrent.mbps.sha256',
      `${label}, against the sha256 relay`,
      'MB/s aggr',
      'higher',
      { direct: agg('direct'), sigward: agg('sigward'), ceiling: agg('sha256') },
      { note: `${blobs}; ceiling column: the raw relay computing each body's sha256 as it passes, in the same rounds` },
    ),
    row('blob.concurrent.slowest', label, 'slowest s', 'lower', {
      direct: slow('direct'),
      sigward: slow('sigward'),
      peer: slow('peer'),
      ceiling: slow('ceiling'),
    }),
  ];
  if (cold) {
    rows.push(
      row(
        'blob.concurrent.mbps.peercold',
        `${label}, peer cold`,
        'MB/s aggr',
        'higher',
        { direct: agg('direct'), sigward: agg('sigward'), peer: [cold.mbps] },
        { note: 'peer column: its cold pass' },
      ),
    );
  }
  rows.push(
    row(
      'blob.concurrent.rss',
      `${label}, sigward peak RSS`,
      'MiB',
      'lower',
      { sigward: peakMiB },
      { reduce: 'max', note: 'max over runs of VmRSS sampled every 100 ms and VmHWM reset at the start of each run' },
    ),
  );
  // The peak includes heap the process kept from earlier scenarios (V8 gives memory back lazily); the RSS at the
  // start of the run tells that part from what streaming N blobs added.
  rows.push(
    row(
      'blob.concurrent.rss.start',
      `${label}, sigward RSS at start`,
      'MiB',
      'lower',
      { sigward: rss.map((m) => m.startMiB) },
      { reduce: 'max' },
    ),
  );
  return { rows, rss };
}
