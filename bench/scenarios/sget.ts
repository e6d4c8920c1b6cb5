// Verified downloads (/sget, README "Verified downloads (sget)"): a big artifact (one OCI artifact manifest whose
// single layer is a big blob already in the upstream) fetched by manifest digest. The `allow: unsigned` rule of
// `<upstream>/bench/**` lets a digest through (src/sget/admit.ts: by digest, the manifest gate's decision). Cold: the
// first request downloads the blob into the spool, counts and hashes it, moves it into the store, then sends it; warm:
// the same request again, served from the store. Each round takes a blob nobody has fetched through sigward's sget
// yet, and alternates: direct upstream GET, sigward /v2/ blob GET (streamed), the ceiling (a raw node relay of the same
// GET: what node relays at all), the raw relay to disk (the same relay writing the body to a file, no parser, no
// hashing; then again hashing as it writes), sget cold, sget warm. sget cold is a spool and then a send, so its own
// ceiling is the raw relay to disk followed by the warm send of the same round (their times added). Every figure that
// writes to disk starts from no dirty pages (`sync` first): otherwise the one measured last in a round pays for the
// kernel's writeback of the gigabytes the others left behind. sigward's RSS is sampled during both sget downloads: it
// must stay flat in the artifact size (the file is never held in memory).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BIG_REPO, type Blob, type Fixtures } from '../fixtures.ts';
import { OCI_MANIFEST, pushBlob, pushManifest, sha256 } from '../../test/helpers/images.ts';
import { clearRelayDisk, diskSha256Url, diskUrl } from '../relay.ts';
import { row, type Row } from '../rows.ts';
import { sampleRss, type RssReport } from '../rss.ts';
import { progress, type Settings } from '../settings.ts';
import type { Stack } from '../stack.ts';
import { curlGet, type Transfer } from '../transfer.ts';

const EMPTY = Buffer.from('{}');

/** Write every dirty page out (coreutils `sync`), so the next disk figure starts with none to flush. */
const syncDisks = async (): Promise<void> => {
  await promisify(execFile)('sync');
};
const EMPTY_TYPE = 'application/vnd.oci.empty.v1+json';

/** Push an artifact manifest (empty config, the blob as its only, titled layer) into BIG_REPO; returns its digest. */
async function pushArtifact(stack: Stack, blob: Blob, title: string): Promise<string> {
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: EMPTY_TYPE, digest: sha256(EMPTY), size: EMPTY.length },
      layers: [
        {
          mediaType: 'application/octet-stream',
          digest: blob.digest,
          size: blob.size,
          annotations: { 'org.opencontainers.image.title': title },
        },
      ],
    }),
  );
  return pushManifest(stack.upstream, BIG_REPO, `sget-${title}`, bytes, OCI_MANIFEST);
}

export interface SgetResult {
  readonly rows: Row[];
  readonly rss: readonly RssReport[];
  /** sget cold MB/s over sigward's /v2/ MB/s, per round. */
  readonly coldOverV2: readonly number[];
}

export async function sgetScenario(stack: Stack, fx: Fixtures, settings: Settings): Promise<SgetResult> {
  const size = settings.blobMiB >= 1024 ? `${settings.blobMiB / 1024} GiB` : `${settings.blobMiB} MiB`;
  await pushBlob(stack.upstream, BIG_REPO, EMPTY);
  // Distinct blobs: one never-downloaded artifact per round. Otherwise the single blob: one cold sample only.
  const blobs: Blob[] = fx.distinct ? fx.concurrent.slice(0, settings.rounds) : [fx.single];
  const artifacts: string[] = [];
  for (const [i, b] of blobs.entries()) artifacts.push(await pushArtifact(stack, b, `bench-${i}.bin`));
  progress(
    `sget: ${artifacts.length} artifact manifest(s) over ${size} blobs pushed to ${BIG_REPO}` +
      `${fx.distinct ? '' : ' (one blob: the disk check chose a single blob, so only the first round is cold)'}`,
  );

  const s = {
    direct: [] as Transfer[],
    v2: [] as Transfer[],
    ceiling: [] as Transfer[],
    disk: [] as Transfer[],
    cold: [] as Transfer[],
    /** Per cold round: the raw relay to disk plus the warm send, as MB/s of the blob. */
    coldCeiling: [] as number[],
    /** The same with the relay to disk hashing (sha256) as it writes. */
    diskHashed: [] as Transfer[],
    coldHashCeiling: [] as number[],
    warm: [] as Transfer[],
  };
  const rss: RssReport[] = [];
  const coldOverV2: number[] = [];
  const fetched = new Set<string>();
  const sampled = async (url: string, bytes: number): Promise<Transfer> => {
    const sampler = sampleRss(stack.sigward.pid);
    try {
      return await curlGet(url, bytes);
    } finally {
      rss.push(sampler.stop());
    }
  };
  for (let r = 0; r < settings.rounds; r++) {
    const i = r % artifacts.length;
    const blob = blobs[i]!;
    const sget = stack.sgetUrl(`${BIG_REPO}@${artifacts[i]!}`);
    // Unrecorded: bring the upstream's copy into the page cache, so direct does not pay a disk read the others skip.
    await curlGet(stack.url('direct', BIG_REPO, `blobs/${blob.digest}`), blob.size);
    const d = await curlGet(stack.url('direct', BIG_REPO, `blobs/${blob.digest}`), blob.size);
    const v = await curlGet(stack.url('sigward', BIG_REPO, `blobs/${blob.digest}`), blob.size);
    const ceil = await curlGet(stack.url('ceiling', BIG_REPO, `blobs/${blob.digest}`), blob.size);
    // The answer is an empty 200 sent once the file is written: its total time is the relay to disk.
    const toDisk = async (): Promise<[Transfer, Transfer]> => {
      await syncDisks();
      const plain = await curlGet(diskUrl(stack.relay, BIG_REPO, `blobs/${blob.digest}`), 0);
      await syncDisks();
      return [plain, await curlGet(diskSha256Url(stack.relay, BIG_REPO, `blobs/${blob.digest}`), 0)];
    };
    const sgetCold = async (): Promise<Transfer | undefined> => {
      if (fetched.has(artifacts[i]!)) return undefined;
      await syncDisks();
      const t = await sampled(sget, blob.size);
      fetched.add(artifacts[i]!);
      return t;
    };
    // Every file written here grows the page cache, which on a VM can cost several times more than writing into pages
    // just freed (bench/README.md, "sget"). So the relay keeps its files, as the store keeps its downloads, and the
    // order alternates: whoever writes first in a round does not always meet the same memory.
    let disk: Transfer, diskHashed: Transfer, cold: Transfer | undefined;
    if (r % 2 === 0) {
      [disk, diskHashed] = await toDisk();
      cold = await sgetCold();
    } else {
      cold = await sgetCold();
      [disk, diskHashed] = await toDisk();
    }
    if (cold) {
      s.cold.push(cold);
      coldOverV2.push(cold.mbps / v.mbps);
    }
    const w = await sampled(sget, blob.size);
    s.disk.push({ ...disk, bytes: blob.size, mbps: blob.size / disk.seconds / 1e6 });
    s.diskHashed.push({ ...diskHashed, bytes: blob.size, mbps: blob.size / diskHashed.seconds / 1e6 });
    const coldCeiling = blob.size / (disk.seconds + w.seconds) / 1e6;
    const coldHashCeiling = blob.size / (diskHashed.seconds + w.seconds) / 1e6;
    if (cold) {
      s.coldCeiling.push(coldCeiling);
      s.coldHashCeiling.push(coldHashCeiling);
    }
    s.direct.push(d);
    s.v2.push(v);
    s.ceiling.push(ceil);
    s.warm.push(w);
    const coldText = cold
      ? `sget cold ${cold.mbps.toFixed(0)} (first byte after ${(cold.ttfbMs / 1000).toFixed(2)} s; its ceiling ${coldCeiling.toFixed(0)}, hashing ${coldHashCeiling.toFixed(0)}), `
      : '';
    progress(
      `sget round ${r + 1}/${settings.rounds}: MB/s direct ${d.mbps.toFixed(0)}, sigward /v2/ ${v.mbps.toFixed(0)}, ceiling ${ceil.mbps.toFixed(0)}, ` +
        `raw relay to disk ${(blob.size / disk.seconds / 1e6).toFixed(0)} (hashing ${(blob.size / diskHashed.seconds / 1e6).toFixed(0)}), ${coldText}` +
        `sget warm ${w.mbps.toFixed(0)}; sigward RSS peak ${Math.max(...rss.slice(-2).map((m) => m.peakSampledMiB))} MiB`,
    );
  }

  await clearRelayDisk(stack.relay);

  const mbps = (ts: Transfer[]): number[] => ts.map((t) => t.mbps);
  const ttfb = (ts: Transfer[]): number[] => ts.map((t) => t.ttfbMs);
  const peak = (m: RssReport): number => Math.max(m.peakSampledMiB, m.hwmScoped ? m.hwmMiB : 0);
  const rows: Row[] = [
    row(
      'sget.v2.mbps',
      `${size} blob GET /v2/ (sget rounds)`,
      'MB/s',
      'higher',
      { direct: mbps(s.direct), sigward: mbps(s.v2), ceiling: mbps(s.ceiling) },
      {
        note: 'the plain streamed /v2/ blob path, measured in the same rounds as the sget figures; ceiling: the raw node relay',
      },
    ),
    row('sget.cold.mbps', `${size} sget cold (spool, check, send)`, 'MB/s', 'higher', {
      direct: mbps(s.direct),
      sigward: mbps(s.cold),
      ceiling: mbps(s.ceiling),
    }),
    row(
      'sget.cold.vsceiling',
      `${size} sget cold against raw relay to disk + warm send`,
      'MB/s',
      'higher',
      { direct: mbps(s.direct), sigward: mbps(s.cold), ceiling: s.coldCeiling },
      {
        note: 'ceiling column, per cold round: the blob over (the raw relay to disk + the warm send of that round)',
      },
    ),
    row(
      'sget.cold.vshashceiling',
      `${size} sget cold against raw relay to disk hashing + warm send`,
      'MB/s',
      'higher',
      { direct: mbps(s.direct), sigward: mbps(s.cold), ceiling: s.coldHashCeiling },
      {
        note: 'ceiling column, per cold round: the blob over (the raw relay to disk that hashes it as it writes + the warm send of that round)',
      },
    ),
    row(
      'sget.cold.spool',
      `${size} sget cold, spool and check (to first byte)`,
      'MB/s',
      'higher',
      { sigward: s.cold.map((t) => t.bytes / (t.ttfbMs / 1000) / 1e6), ceiling: mbps(s.disk) },
      { note: 'sigward: the blob over the time to its first byte; ceiling column: the raw relay to disk' },
    ),
    row(
      'sget.cold.spool.sha256',
      `${size} sget cold, spool and check, against the raw relay to disk hashing`,
      'MB/s',
      'higher',
      { sigward: s.cold.map((t) => t.bytes / (t.ttfbMs / 1000) / 1e6), ceiling: mbps(s.diskHashed) },
      { note: 'sigward: the blob over the time to its first byte; ceiling column: the raw relay to disk that hashes' },
    ),
    row('sget.cold.ttfb', `${size} sget cold (spool, check, send)`, 'TTFB ms', 'lower', {
      direct: ttfb(s.direct),
      sigward: ttfb(s.cold),
    }),
    row('sget.warm.mbps', `${size} sget warm (from the store)`, 'MB/s', 'higher', {
      direct: mbps(s.direct),
      sigward: mbps(s.warm),
      ceiling: mbps(s.ceiling),
    }),
    row('sget.warm.ttfb', `${size} sget warm (from the store)`, 'TTFB ms', 'lower', {
      direct: ttfb(s.direct),
      sigward: ttfb(s.warm),
    }),
    row(
      'sget.rss',
      `${size} sget downloads, sigward peak RSS`,
      'MiB',
      'lower',
      { sigward: rss.map(peak) },
      { reduce: 'max' },
    ),
    row(
      'sget.rss.start',
      `${size} sget downloads, sigward RSS at start`,
      'MiB',
      'lower',
      { sigward: rss.map((m) => m.startMiB) },
      { reduce: 'max' },
    ),
    row(
      'sget.rss.growth',
      `${size} sget downloads, sigward RSS growth`,
      'MiB',
      'lower',
      { sigward: rss.map((m) => peak(m) - m.startMiB) },
      {
        reduce: 'max',
        note: 'peak minus RSS at the start of the same download; a buffered artifact would add its whole size',
      },
    ),
  ];
  return { rows, rss, coldOverV2 };
}
