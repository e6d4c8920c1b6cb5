// The two ways for blob bytes to avoid node's relay path (README, "Blob delivery"), each against its reference in
// the same run, each with a sigward process of its own (the main one keeps relaying for the other scenarios):
//   blob redirect - sigward with `blobs: redirect` in front of a redirecting front: the front answers every blob GET
//                   with a 307 to the upstream (its "storage"), so a client (curl -L) gets the bytes from the
//                   upstream itself. Against direct; the bytes sigward wrote meanwhile (/proc/<pid>/io wchar:
//                   sockets, files, logs) show that no blob byte passed through it.
//   blob cache    - sigward with `blobs: cache` against the upstream: a cold pass fills its store (and warms the
//                   peer), then warm GETs come from disk. Against the peer's warm figures (distribution serving its
//                   own pull-through cache), with sigward's peak RSS while it serves from disk.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { listenOnLoopback, waitFor } from '../../test/helpers/proc.ts';
import { BIG_REPO, freeDiskBytes, type Fixtures } from '../fixtures.ts';
import { row, type Row } from '../rows.ts';
import { sampleRss, statusKiB, type RssReport } from '../rss.ts';
import { progress, type Settings } from '../settings.ts';
import { startSigward, sigwardConfig, type SigwardProcess } from '../sigward.ts';
import type { Contender, Stack } from '../stack.ts';
import { curlGet, curlMany, type ManyTransfers, type Transfer } from '../transfer.ts';

/** Bytes a process wrote through write(2) and friends so far (proc(5), /proc/<pid>/io). */
function writtenBytes(pid: number): number {
  const m = /^wchar:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  return Number(m?.[1] ?? NaN);
}

/** A registry front whose blob GETs are redirected to `storageUrl` (the upstream): what ghcr.io or S3 do. */
async function startRedirectFront(storageUrl: string): Promise<{ url: string; host: string; stop(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    if (req.method === 'GET' && /^\/v2\/.+\/blobs\/sha256:[a-f0-9]{64}$/.test(path)) {
      res.writeHead(307, { Location: `${storageUrl}${path}`, 'Content-Length': '0' });
    } else res.writeHead(404, { 'Content-Length': '0' });
    res.end();
  });
  const { host } = await listenOnLoopback(server);
  return {
    url: `http://${host}`,
    host,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A sigward process of the scenario's own, in a directory of its own, for `upstream` as the default upstream. */
async function ownSigward(
  stack: Stack,
  name: string,
  upstream: { host: string; url: string; blobs: 'redirect' | 'cache'; allowPrivateNetworks?: boolean },
  sget?: Record<string, string>,
): Promise<SigwardProcess> {
  const dir = join(stack.tmp, name);
  mkdirSync(dir, { recursive: true });
  const config = sigwardConfig({
    upstream,
    cacheDir: join(dir, 'cache'),
    policy: { default: 'deny', policies: [{ name: 'bench', match: [`${upstream.host}/bench/**`], allow: 'unsigned' }] },
    ...(sget ? { sget } : {}),
  });
  const sw = await startSigward(config, dir);
  progress(`${name}: sigward with blobs: ${upstream.blobs} on ${sw.url} (pid ${sw.pid}) -> ${upstream.url}`);
  return sw;
}

const sizeLabel = (settings: Settings): string =>
  settings.blobMiB >= 1024 ? `${settings.blobMiB / 1024} GiB` : `${settings.blobMiB} MiB`;
const mbps = (ts: readonly (Transfer | ManyTransfers)[]): number[] => ts.map((t) => t.mbps);
const peakOf = (rss: readonly RssReport[]): number[] =>
  rss.map((r) => Math.max(r.peakSampledMiB, r.hwmScoped ? r.hwmMiB : 0));

export async function blobRedirectScenario(stack: Stack, fx: Fixtures, settings: Settings): Promise<Row[]> {
  const front = await startRedirectFront(stack.upstream.url);
  let sw: SigwardProcess | undefined;
  try {
    // allowPrivateNetworks: the storage the front redirects to is on loopback, like every component here.
    sw = await ownSigward(stack, 'sigward-redirect', {
      host: front.host,
      url: front.url,
      blobs: 'redirect',
      allowPrivateNetworks: true,
    });
    const swUrl = (digest: string): string => `${must(sw).url}/v2/${BIG_REPO}/blobs/${digest}?ns=${front.host}`;
    const direct = (digest: string): string => stack.url('direct', BIG_REPO, `blobs/${digest}`);
    const size = fx.single.size;
    const single: Record<'direct' | 'sigward', Transfer[]> = { direct: [], sigward: [] };
    const many: Record<'direct' | 'sigward', ManyTransfers[]> = { direct: [], sigward: [] };
    const before = writtenBytes(sw.pid);
    let moved = 0;
    for (let r = 0; r < settings.rounds; r++) {
      const d = await curlGet(direct(fx.single.digest), size);
      const s = await curlGet(swUrl(fx.single.digest), size, undefined, true);
      single.direct.push(d);
      single.sigward.push(s);
      moved += s.bytes;
      progress(
        `redirect ${sizeLabel(settings)} round ${r + 1}: MB/s direct ${d.mbps.toFixed(0)}, sigward ${s.mbps.toFixed(0)}`,
      );
    }
    const n = fx.concurrent.length;
    for (let r = 0; r < settings.bigRounds; r++) {
      const d = await curlMany(
        fx.concurrent.map((b) => direct(b.digest)),
        size,
      );
      const s = await curlMany(
        fx.concurrent.map((b) => swUrl(b.digest)),
        size,
        undefined,
        true,
      );
      many.direct.push(d);
      many.sigward.push(s);
      moved += s.bytes;
      progress(
        `redirect ${n} x ${sizeLabel(settings)} round ${r + 1}: MB/s aggregate direct ${d.mbps.toFixed(0)}, sigward ${s.mbps.toFixed(0)}`,
      );
    }
    const wrote = writtenBytes(sw.pid) - before;
    progress(`redirect: sigward wrote ${wrote} bytes while its clients moved ${moved} blob bytes`);
    const label = `${sizeLabel(settings)} blob GET, blobs: redirect (curl -L)`;
    return [
      row('blob.redirect.single.mbps', label, 'MB/s', 'higher', {
        direct: mbps(single.direct),
        sigward: mbps(single.sigward),
      }),
      row('blob.redirect.concurrent.mbps', `${n} x ${label}`, 'MB/s aggr', 'higher', {
        direct: mbps(many.direct),
        sigward: mbps(many.sigward),
      }),
      row(
        'blob.redirect.written',
        `${label}: bytes sigward wrote (all of them: sockets, files)`,
        'MB',
        'lower',
        { sigward: [wrote / 1e6] },
        { note: `while its clients downloaded ${(moved / 1e6).toFixed(0)} MB of blobs from the storage` },
      ),
    ];
  } finally {
    await sw?.stop();
    await front.stop();
  }
}

export async function blobCacheScenario(stack: Stack, fx: Fixtures, settings: Settings): Promise<Row[]> {
  const artifactMiB = settings.blobMiB + 16;
  // sigward's store holds every blob it serves warm: the concurrent blobs too when the disk has room for them (the
  // upstream and the peer hold them already), else the single blob, asked N times at once.
  const wanted = new Set([fx.single, ...fx.concurrent].map((b) => b.digest)).size;
  const room = freeDiskBytes(stack.tmp) >= (wanted + 2) * artifactMiB * 1024 * 1024;
  const concurrent = room ? fx.concurrent : fx.concurrent.map(() => fx.single);
  if (!room)
    progress(
      `cache: not enough free disk for ${wanted} blobs in sigward's store; the single blob ${concurrent.length} times`,
    );
  const all = [fx.single, ...concurrent.filter((b) => b.digest !== fx.single.digest)];
  const distinct = new Set(all.map((b) => b.digest)).size;
  const sw = await ownSigward(
    stack,
    'sigward-cache',
    { host: stack.upstream.host, url: stack.upstream.url, blobs: 'cache' },
    { storeSize: `${(distinct + 1) * artifactMiB}MiB`, maxArtifactSize: `${artifactMiB}MiB` },
  );
  try {
    const url = (c: Contender, digest: string): string =>
      c === 'sigward'
        ? `${sw.url}/v2/${BIG_REPO}/blobs/${digest}?ns=${stack.upstream.host}`
        : stack.url(c, BIG_REPO, `blobs/${digest}`);
    const size = fx.single.size;
    // The cold pass: sigward stores what it relays, the peer what it pulls through.
    progress(`cache: cold pass over ${distinct} blobs (sigward and the peer fill their stores)`);
    for (const c of ['sigward', 'peer'] as const) {
      await curlMany(
        [...new Set(all.map((b) => b.digest))].map((d) => url(c, d)),
        size,
      );
    }
    const stored = (d: string): boolean =>
      existsSync(join(stack.tmp, 'sigward-cache', 'cache', 'sget', 'blobs', d.replace(':', '-')));
    await waitFor(async () => all.every((b) => stored(b.digest)), 'sigward to store every blob', 120_000);
    progress(`cache: every blob stored; sigward RSS ${Math.round((statusKiB(sw.pid, 'VmRSS') ?? 0) / 1024)} MiB`);
    const order: readonly Contender[] = ['direct', 'sigward', 'peer'];
    const single: Record<Contender, Transfer[]> = { direct: [], sigward: [], peer: [] };
    const rss: RssReport[] = [];
    for (let r = 0; r < settings.rounds; r++) {
      const line: string[] = [];
      for (const c of order) {
        const sampler = c === 'sigward' ? sampleRss(sw.pid) : undefined;
        const t = await curlGet(url(c, fx.single.digest), size);
        if (sampler) rss.push(sampler.stop());
        single[c].push(t);
        line.push(`${c} ${t.mbps.toFixed(0)}`);
      }
      progress(`cache warm ${sizeLabel(settings)} round ${r + 1}: MB/s ${line.join(', ')}`);
    }
    const n = concurrent.length;
    const many: Record<Contender, ManyTransfers[]> = { direct: [], sigward: [], peer: [] };
    for (let r = 0; r < settings.bigRounds; r++) {
      for (const c of order) {
        const sampler = c === 'sigward' ? sampleRss(sw.pid) : undefined;
        const t = await curlMany(
          concurrent.map((b) => url(c, b.digest)),
          size,
        );
        const mem = sampler?.stop();
        if (mem) rss.push(mem);
        many[c].push(t);
        const memText = mem ? `, peak RSS ${mem.peakSampledMiB} MiB (${mem.startMiB} MiB at start)` : '';
        progress(
          `cache warm ${n} x ${sizeLabel(settings)} round ${r + 1}, ${c}: ${t.mbps.toFixed(0)} MB/s aggregate${memText}`,
        );
      }
    }
    const label = `${sizeLabel(settings)} blob GET, blobs: cache, warm`;
    const note = 'peer column: distribution serving its pull-through cache (warm), in the same rounds';
    const pick = (ts: Record<Contender, (Transfer | ManyTransfers)[]>) => ({
      direct: mbps(ts.direct),
      sigward: mbps(ts.sigward),
      peer: mbps(ts.peer),
    });
    return [
      row('blob.cache.single.mbps', label, 'MB/s', 'higher', pick(single), { note }),
      row('blob.cache.concurrent.mbps', `${n} x ${label}`, 'MB/s aggr', 'higher', pick(many), { note }),
      row(
        'blob.cache.rss',
        `${label}, sigward peak RSS`,
        'MiB',
        'lower',
        { sigward: peakOf(rss) },
        { reduce: 'max', note: 'max over the warm runs, single and concurrent (it includes what the cold pass left)' },
      ),
      row(
        'blob.cache.rss.growth',
        `${label}, sigward RSS growth while serving from disk`,
        'MiB',
        'lower',
        { sigward: rss.map((r) => Math.max(r.peakSampledMiB, r.hwmScoped ? r.hwmMiB : 0) - r.startMiB) },
        { reduce: 'max', note: 'peak minus the RSS at the start of each warm run' },
      ),
    ];
  } finally {
    await sw.stop();
  }
}

function must<T>(v: T | undefined): T {
  if (v === undefined) throw new Error('not started');
  return v;
}
