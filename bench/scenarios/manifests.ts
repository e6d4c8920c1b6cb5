// Manifest GETs by tag and by digest with wrk, at 1 and 32 connections. By tag, every contender must ask its
// upstream (tags move; distribution's proxy sends a HEAD upstream each time); by digest, a
// warm cache may answer alone. Before measuring, every contender fetches both references once (the peer's first
// pull is cold; sigward's digest cache fills) and runs one short unrecorded wrk (JIT and connection warm-up).
// The ceiling column is the least node proxy (bench/floor-server.ts: node:http + undici, one GET upstream per
// request, no checks): what a node process answering through an upstream reaches here, so a figure can say how much
// of the gap to direct is node's.
// The same load runs over the unsigned small image (proxy path + policy lookup) and over a signed one (the signature
// gate's warm path: tag resolved upstream, verdict from the cache), see manifestLoad().
import { request } from 'undici';
import { ALL_MANIFEST_TYPES } from '../../test/helpers/registry-client.ts';
import { SMALL_REPO, SMALL_TAG, type Fixtures } from '../fixtures.ts';
import { pluck, row, type Row } from '../rows.ts';
import { progress, type Settings } from '../settings.ts';
import { CONTENDERS, type Contender, type Stack } from '../stack.ts';
import { runWrk, type WrkResult } from '../wrk.ts';

/** distribution negotiates on Accept even for digests: without the OCI type it answers 404. */
const HEADERS = { Accept: ALL_MANIFEST_TYPES };

interface Case {
  readonly by: 'tag' | 'digest';
  readonly connections: number;
}

async function fetchOnce(url: string, expectDigest: string): Promise<void> {
  const res = await request(url, { headers: { accept: ALL_MANIFEST_TYPES } });
  await res.body.dump();
  const got = res.headers['docker-content-digest'];
  if (res.statusCode !== 200 || got !== expectDigest) {
    throw new Error(
      `warm-up GET ${url} answered ${res.statusCode} with digest ${String(got)}, expected 200 and ${expectDigest}`,
    );
  }
}

/** One image to load, and how its rows are named. */
export interface LoadSubject {
  readonly repo: string;
  readonly tag: string;
  readonly digest: string;
  /** Row id prefix, e.g. `manifest` -> `manifest.tag.c1.rps`. */
  readonly id: string;
  /** Label prefix, e.g. `manifest` -> `manifest by tag, 1 conn`. */
  readonly label: string;
}

export function manifestScenario(stack: Stack, fx: Fixtures, settings: Settings): Promise<Row[]> {
  return manifestLoad(
    stack,
    { repo: SMALL_REPO, tag: SMALL_TAG, digest: fx.smallDigest, id: 'manifest', label: 'manifest' },
    settings,
  );
}

/** The contenders asked, the manifest ceiling (the least node proxy, stack.floor) last. */
const ASKED = [...CONTENDERS, 'floor'] as const;
type Asked = (typeof ASKED)[number];

export async function manifestLoad(stack: Stack, subject: LoadSubject, settings: Settings): Promise<Row[]> {
  const refs = { tag: subject.tag, digest: subject.digest } as const;
  const url = (c: Asked, by: Case['by']): string => stack.url(c, subject.repo, `manifests/${refs[by]}`);
  for (const c of ASKED) for (const by of ['tag', 'digest'] as const) await fetchOnce(url(c, by), subject.digest);
  progress(`${subject.label}s: warm-up (one GET each, then 1 s of wrk per contender and reference)`);
  for (const c of ASKED) {
    for (const by of ['tag', 'digest'] as const)
      await runWrk(url(c, by), { connections: 8, seconds: 1, headers: HEADERS });
  }

  const cases: Case[] = [];
  for (const by of ['tag', 'digest'] as const)
    for (const connections of settings.connections) cases.push({ by, connections });
  const results = new Map<Case, Record<Contender | 'ceiling', WrkResult[]>>(
    cases.map((k) => [k, { direct: [], sigward: [], peer: [], ceiling: [] }]),
  );
  // Rounds outermost, contenders innermost: each case's three figures are taken seconds apart.
  for (let r = 0; r < settings.rounds; r++) {
    for (const k of cases) {
      const line: string[] = [];
      for (const c of ASKED) {
        const res = await runWrk(url(c, k.by), {
          connections: k.connections,
          seconds: settings.wrkSeconds,
          headers: HEADERS,
        });
        results.get(k)![c === 'floor' ? 'ceiling' : c].push(res);
        line.push(`${c === 'floor' ? 'ceiling' : c} ${Math.round(res.rps)}`);
      }
      progress(
        `${subject.label}s round ${r + 1}/${settings.rounds}, by ${k.by}, ${k.connections} conn: req/s ${line.join(', ')}`,
      );
    }
  }

  const rows: Row[] = [];
  for (const k of cases) {
    const s = results.get(k)!;
    const base = `${subject.id}.${k.by}.c${k.connections}`;
    const label = `${subject.label} by ${k.by}, ${k.connections} conn`;
    rows.push(
      row(
        `${base}.rps`,
        label,
        'req/s',
        'higher',
        pluck(s, (w) => w.rps),
      ),
    );
    rows.push(
      row(
        `${base}.p50`,
        label,
        'p50 ms',
        'lower',
        pluck(s, (w) => w.p50Ms),
      ),
    );
    rows.push(
      row(
        `${base}.p99`,
        label,
        'p99 ms',
        'lower',
        pluck(s, (w) => w.p99Ms),
      ),
    );
  }
  return rows;
}
