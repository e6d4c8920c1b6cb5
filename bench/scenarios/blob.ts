// One big blob GET at a time: throughput and time to first byte. The peer caches a blob on its first pull, so its
// first GET is reported apart as "peer cold" and every later one is warm (served from its own disk). The ceiling (a
// raw node relay, relay-server.ts) takes its turn in every round too: sigward's figure against it is the part of the
// gap to direct that is sigward's own, and not any node relay's. So does the hashing ceiling (the same relay computing
// the body's sha256 as it passes, as any relay that checks a digest must): sigward against it is what its relay path
// costs beyond the hashing itself.
import type { Fixtures } from '../fixtures.ts';
import { BIG_REPO } from '../fixtures.ts';
import { row, type Row } from '../rows.ts';
import { sampleRss, type RssReport } from '../rss.ts';
import { progress, type Settings } from '../settings.ts';
import { sha256Url } from '../relay.ts';
import type { AnyContender as Contender, Stack } from '../stack.ts';
import { curlGet, type Transfer } from '../transfer.ts';

/** One turn each per round, in this order ('sha256': the hashing ceiling). */
const ORDER: readonly (Contender | 'sha256')[] = ['direct', 'sigward', 'ceiling', 'sha256', 'peer'];

export async function blobScenario(stack: Stack, fx: Fixtures, settings: Settings): Promise<Row[]> {
  const size = `${settings.blobMiB >= 1024 ? `${settings.blobMiB / 1024} GiB` : `${settings.blobMiB} MiB`}`;
  const url = (c: Contender): string => stack.url(c, BIG_REPO, `blobs/${fx.single.digest}`);
  const warm: Record<Contender | 'sha256', Transfer[]> = { direct: [], sigward: [], peer: [], ceiling: [], sha256: [] };
  let cold: Transfer | undefined;
  const rss: RssReport[] = [];
  for (let r = 0; r < settings.rounds; r++) {
    const line: string[] = [];
    for (const c of ORDER) {
      if (c === 'peer' && cold === undefined) {
        cold = await curlGet(url(c), fx.single.size);
        line.push(`peer cold ${cold.mbps.toFixed(0)}`);
      }
      const sampler = c === 'sigward' ? sampleRss(stack.sigward.pid) : undefined;
      const where = c === 'sha256' ? sha256Url(stack.relay, BIG_REPO, `blobs/${fx.single.digest}`) : url(c);
      const t = await curlGet(where, fx.single.size);
      if (sampler) rss.push(sampler.stop());
      warm[c].push(t);
      line.push(`${c} ${t.mbps.toFixed(0)}`);
    }
    progress(`${size} blob round ${r + 1}/${settings.rounds}: MB/s ${line.join(', ')}`);
  }
  const mbps = (ts: Transfer[]): number[] => ts.map((t) => t.mbps);
  const ttfb = (ts: Transfer[]): number[] => ts.map((t) => t.ttfbMs);
  const label = `${size} blob GET`;
  const coldNote = 'peer column: its first (cold) pull, fetched from the upstream while serving';
  const rssPeak = rss.map((r) => Math.max(r.peakSampledMiB, r.hwmScoped ? r.hwmMiB : 0));
  return [
    row(
      'blob.single.mbps',
      label,
      'MB/s',
      'higher',
      { direct: mbps(warm.direct), sigward: mbps(warm.sigward), peer: mbps(warm.peer), ceiling: mbps(warm.ceiling) },
      {
        note: 'ceiling column: a raw node relay (net.Socket, response head found by hand, no HTTP parser, no hashing) in the same rounds',
      },
    ),
    row(
      'blob.single.mbps.sha256',
      `${label}, against the sha256 relay`,
      'MB/s',
      'higher',
      { direct: mbps(warm.direct), sigward: mbps(warm.sigward), ceiling: mbps(warm.sha256) },
      {
        note: "ceiling column: the same raw relay computing the body's sha256 as it passes and checking it before the end (relay-server.ts /sha256/), in the same rounds",
      },
    ),
    row('blob.single.ttfb', label, 'TTFB ms', 'lower', {
      direct: ttfb(warm.direct),
      sigward: ttfb(warm.sigward),
      peer: ttfb(warm.peer),
      ceiling: ttfb(warm.ceiling),
    }),
    row(
      'blob.single.mbps.peercold',
      `${label}, peer cold`,
      'MB/s',
      'higher',
      { direct: mbps(warm.direct), sigward: mbps(warm.sigward), peer: cold ? [cold.mbps] : [] },
      { note: coldNote },
    ),
    row(
      'blob.single.ttfb.peercold',
      `${label}, peer cold`,
      'TTFB ms',
      'lower',
      { direct: ttfb(warm.direct), sigward: ttfb(warm.sigward), peer: cold ? [cold.ttfbMs] : [] },
      { note: coldNote },
    ),
    row('blob.single.rss', `${label}, sigward peak RSS`, 'MiB', 'lower', { sigward: rssPeak }, { reduce: 'max' }),
  ];
}
