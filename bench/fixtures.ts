// What the upstream holds for the benchmark: one small single-arch image (manifest scenarios) and big
// uncompressed blobs of deterministic random bytes (blob scenarios). Big blobs are built into a temp file, pushed,
// and the file is removed at once, so at most two build files sit on disk besides the registries.
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { buildBigImage, buildImage, pushBlob, pushImage, type TestImage } from '../test/helpers/images.ts';
import type { Registry } from '../test/helpers/registry.ts';
import { progress, type Settings } from './settings.ts';

export const SMALL_REPO = 'bench/small';
export const SMALL_TAG = 'v1';
export const BIG_REPO = 'bench/big';

export interface Blob {
  readonly digest: string;
  readonly size: number;
}

export interface Fixtures {
  readonly smallDigest: string;
  /** The blob of the single-GET scenario. */
  readonly single: Blob;
  /** The blobs of the concurrent scenario, one per GET (all equal to `single` when not distinct). */
  readonly concurrent: readonly Blob[];
  readonly distinct: boolean;
  /** Why distinct or same: the disk check, or the BENCH_BLOBS override. */
  readonly blobsNote: string;
}

export function freeDiskBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/**
 * Distinct concurrent blobs need room twice (the upstream's copy and the peer's cache) plus the single blob twice,
 * two build files, sigward's sget store (one download per sget round, see stack.ts) and the two files per sget round
 * the raw relay to disk keeps until the scenario ends, and 4 GiB to spare. Past the page cache, reads of the upstream
 * and of the peer come partly from disk: the note says so, because the throughput figures then measure the disk too.
 */
function chooseDistinct(settings: Settings, tmp: string): { distinct: boolean; note: string } {
  const blob = settings.blobMiB * 2 ** 20;
  const need = (settings.concurrency + 1) * blob * 2 + 2 * blob + (3 * settings.rounds + 1) * blob + 4 * 2 ** 30;
  const free = freeDiskBytes(tmp);
  const gib = (n: number): string => `${(n / 2 ** 30).toFixed(1)} GiB`;
  const cacheNote = (n: number): string => {
    const stored = (n + 1) * blob * 2; // the upstream's copies and the peer's cache
    const avail = os.freemem();
    return stored > avail
      ? `; ${gib(stored)} stored vs ${gib(avail)} free memory: some reads come from disk, not page cache`
      : '';
  };
  const n = settings.concurrency;
  if (settings.blobsMode === 'same')
    return { distinct: false, note: `same blob for every GET (BENCH_BLOBS=same)${cacheNote(0)}` };
  if (settings.blobsMode === 'distinct') {
    return {
      distinct: true,
      note: `${n} distinct blobs (BENCH_BLOBS=distinct; ${gib(free)} free, ${gib(need)} wanted)${cacheNote(n)}`,
    };
  }
  return free >= need
    ? { distinct: true, note: `${n} distinct blobs (${gib(free)} free on ${tmp}, ${gib(need)} needed)${cacheNote(n)}` }
    : {
        distinct: false,
        note: `the same blob ${n} times: only ${gib(free)} free on ${tmp}, distinct blobs need ${gib(need)}${cacheNote(0)}`,
      };
}

async function pushBig(up: Registry, settings: Settings, tmp: string, seed: string): Promise<Blob> {
  // Each build gets its own directory: buildBigImage names its file after the size only.
  const dir = mkdtempSync(join(tmp, 'build-'));
  try {
    const img: TestImage & { layerFile: string } = await buildBigImage({ mib: settings.blobMiB, dir, seed });
    const [digest, layer] = [...img.blobs].find(([, b]) => !(b instanceof Uint8Array)) ?? [];
    if (digest === undefined || layer === undefined || layer instanceof Uint8Array)
      throw new Error('buildBigImage returned no file layer');
    await pushBlob(up, BIG_REPO, layer, digest);
    return { digest, size: layer.size };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Build and push `seeds.length` blobs, two at a time: distribution's upload is CPU-bound (~5 CPU-seconds per GiB
 * here, hashing and copying), so two uploads keep both cores busy, and one build overlaps the other's upload.
 */
async function pushMany(up: Registry, settings: Settings, tmp: string, seeds: readonly string[]): Promise<Blob[]> {
  const out: Blob[] = new Array<Blob>(seeds.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < seeds.length; i = next++) {
      out[i] = await pushBig(up, settings, tmp, seeds[i]!);
      done++;
      if (done % 5 === 0 || done === seeds.length) progress(`pushed ${done}/${seeds.length} concurrent-scenario blobs`);
    }
  };
  await Promise.all([worker(), worker()]);
  return out;
}

/** Push everything the scenarios read; `tmp` is the benchmark's temp dir (on the same disk as the registries). */
export async function pushFixtures(up: Registry, settings: Settings, tmp: string): Promise<Fixtures> {
  const small = buildImage({ annotations: { 'org.opencontainers.image.title': 'sigward bench small image' } });
  const smallDigest = await pushImage(up, SMALL_REPO, SMALL_TAG, small);
  progress(`pushed ${SMALL_REPO}:${SMALL_TAG} (${small.size} byte manifest, ${smallDigest.slice(0, 19)}…)`);
  const { distinct, note } = chooseDistinct(settings, tmp);
  progress(`concurrent scenario: ${note}`);
  const single = await pushBig(up, settings, tmp, 'sigward-bench-single');
  progress(`pushed the ${settings.blobMiB} MiB single blob ${single.digest.slice(0, 19)}…`);
  const seeds = Array.from({ length: settings.concurrency }, (_, i) => `sigward-bench-${i}`);
  const concurrent = distinct ? await pushMany(up, settings, tmp, seeds) : seeds.map(() => single);
  return { smallDigest, single, concurrent, distinct, blobsNote: note };
}
