// A hostile `.sig`: one GET of an unsigned image whose legacy signature image lists 1000 layers, all naming one
// 1 MiB blob (the amplification found in review: it used to make 1000 upstream blob GETs, take sigward from 72 MiB
// to 1.1 GiB and 14.7 s). Each round a fresh image (verdicts are cached per digest) with its own 1 MiB blob, pulled
// through the counting forwarder (no delay) so the upstream blob GETs are counted, after one ordinary signed pull as
// a warm-up. Figures: the wall time of the refused GET, sigward's RSS growth while it runs (peak minus the RSS at
// its start; the largest of the rounds), the blob GETs. A second variant,
// 1000 distinct tiny blobs, shows the per-lookup signature cap (limits.signaturesPerLookup) at work.
import { signLegacy } from '../../test/helpers/cosign.ts';
import { buildImage, pushImage } from '../../test/helpers/images.ts';
import { pushHostileSig, type HostileSigOptions } from '../../test/helpers/hostile-sig.ts';
import { newProbe } from '../probe.ts';
import { row, type Row } from '../rows.ts';
import { sampleRss } from '../rss.ts';
import { progress, type Settings } from '../settings.ts';
import { SIGNED_PREFIX } from '../sigward.ts';
import type { Stack } from '../stack.ts';

const REPO = `${SIGNED_PREFIX}/hostile`;

interface Sample {
  readonly ms: number;
  readonly rssGrowthMiB: number;
  readonly blobGets: number;
}

export async function hostileSigScenario(stack: Stack, settings: Settings): Promise<Row[]> {
  const fwd = stack.forwarder;
  const probe = newProbe(1);
  const variants: Record<'same' | 'distinct', HostileSigOptions> = {
    same: { layers: 1000, blob: 'same', blobBytes: 1024 * 1024 },
    distinct: { layers: 1000, blob: 'distinct' },
  };
  const samples: Record<keyof typeof variants, Sample[]> = { same: [], distinct: [] };
  try {
    // Warm-up: one ordinary signed pull through the forwarder, so the figures do not include what the first signature
    // lookup of a fresh process costs anyway (code compiled, connections opened), e.g. when BENCH_ONLY runs this alone.
    const warm = buildImage({ annotations: { 'org.opencontainers.image.title': 'sigward bench hostile warm-up' } });
    await pushImage(stack.upstream, REPO, 'warm', warm);
    await signLegacy(stack.upstream, REPO, warm.digest, { keys: [stack.key] });
    await probe.get(stack.sigwardUrl(fwd.host, REPO, 'manifests/warm'), warm.digest, 200);
    for (let i = 0; i < settings.rounds; i++) {
      for (const [v, opts] of Object.entries(variants) as [keyof typeof variants, HostileSigOptions][]) {
        const img = buildImage({
          annotations: { 'org.opencontainers.image.title': `sigward bench hostile ${v} ${i}` },
        });
        const tag = `hostile-${v}-${i}`;
        await pushImage(stack.upstream, REPO, tag, img);
        await pushHostileSig(stack.upstream, REPO, img.digest, opts);
        fwd.delayMs = 0;
        fwd.begin();
        const rss = sampleRss(stack.sigward.pid, 10);
        const ms = await probe.get(stack.sigwardUrl(fwd.host, REPO, `manifests/${tag}`), img.digest, 403);
        const r = rss.stop();
        const peak = r.hwmScoped ? Math.max(r.hwmMiB, r.peakSampledMiB) : r.peakSampledMiB;
        const s = { ms, rssGrowthMiB: Math.round((peak - r.startMiB) * 10) / 10, blobGets: fwd.counts().blob };
        samples[v].push(s);
        progress(
          `hostile .sig (${v}) ${i + 1}/${settings.rounds}: 403 in ${ms.toFixed(1)} ms, sigward RSS ${r.startMiB} -> peak ${peak} MiB ` +
            `(+${s.rssGrowthMiB}), ${s.blobGets} upstream blob GETs`,
        );
      }
    }
  } finally {
    await probe.close();
  }
  const col = (v: keyof typeof variants, f: (s: Sample) => number): { sigward: number[] } => ({
    sigward: samples[v].map(f),
  });
  const same = '.sig of 1000 layers -> one 1 MiB blob';
  const distinct = '.sig of 1000 layers -> 1000 tiny blobs';
  const note =
    'one GET of a fresh unsigned image through the counting forwarder; RSS growth = peak (sampled every 10 ms and VmHWM) - RSS at the start';
  return [
    row(
      'hostile.sig.ms',
      `hostile ${same}: GET (403)`,
      'ms',
      'lower',
      col('same', (s) => s.ms),
      { note },
    ),
    row(
      'hostile.sig.rss',
      `hostile ${same}: sigward RSS growth`,
      'MiB',
      'lower',
      col('same', (s) => s.rssGrowthMiB),
      { reduce: 'max', note },
    ),
    row(
      'hostile.sig.blobs',
      `hostile ${same}: upstream blob GETs`,
      'requests',
      'lower',
      col('same', (s) => s.blobGets),
      { reduce: 'max' },
    ),
    row(
      'hostile.distinct.ms',
      `hostile ${distinct}: GET (403)`,
      'ms',
      'lower',
      col('distinct', (s) => s.ms),
    ),
    row(
      'hostile.distinct.rss',
      `hostile ${distinct}: sigward RSS growth`,
      'MiB',
      'lower',
      col('distinct', (s) => s.rssGrowthMiB),
      { reduce: 'max' },
    ),
    row(
      'hostile.distinct.blobs',
      `hostile ${distinct}: upstream blob GETs`,
      'requests',
      'lower',
      col('distinct', (s) => s.blobGets),
      { reduce: 'max', note: 'limits.signaturesPerLookup (100) distinct signatures read per lookup' },
    ),
  ];
}
