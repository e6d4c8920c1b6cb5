// Cold signed pulls: the first GET by tag of a signed image sigward has never verified. It must resolve the tag,
// look the signatures up (referrers API, referrers tag schema and the legacy `.sig` tag, in parallel), fetch the
// signature blobs and verify them before the first byte goes out. Three figures:
//   - latency against a direct GET of the same manifest, alternating per image (each round a fresh image, whose
//     files the upstream has just read once: see prewarmSignatures);
//   - the requests it makes upstream, counted by the forwarder (forwarder.ts) that sigward's second upstream goes
//     through;
//   - the critical path in sequential round trips: the forwarder holds every request for a fixed delay; the latency
//     that delay adds, divided by what it adds to ONE direct request through the forwarder (the calibration: the
//     nominal delay plus timer lateness), is the number of round trips made one after the other.
// Legacy `.sig` signatures are the figures with targets; cosign v3 bundles (referrers tag schema: the referrer
// manifest and its blob come after the index) are measured the same way for comparison.
import { busyMs, emptyCounts, type RequestKind } from '../forwarder.ts';
import { newProbe, prewarmSignatures, timeSignaturePath, type Probe } from '../probe.ts';
import { row, type Row } from '../rows.ts';
import { progress, type Settings } from '../settings.ts';
import { COLD_VARIANTS, type SignedFixtures, type SignedImage } from '../signed-fixtures.ts';
import type { Stack } from '../stack.ts';
import { median } from '../stats.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface ColdExtra {
  /** Upstream requests of the first legacy and bundle cold pull, in arrival order (kind, path, ms). */
  readonly firstLegacy: readonly unknown[];
  readonly firstBundle: readonly unknown[];
  readonly calibrationMs: { readonly delay0: number[]; readonly delayed: number[] };
}

export async function signedColdScenario(
  stack: Stack,
  sfx: SignedFixtures,
  settings: Settings,
): Promise<{ rows: Row[]; extra: ColdExtra }> {
  const fwd = stack.forwarder;
  const probe: Probe = newProbe();
  const up = stack.upstream.host;
  const viaUp = (img: SignedImage): string => stack.sigwardUrl(up, img.repo, `manifests/${img.tag}`);
  const viaFwd = (img: SignedImage): string => stack.sigwardUrl(fwd.host, img.repo, `manifests/${img.tag}`);
  const direct = (img: SignedImage): string => stack.url('direct', img.repo, `manifests/${img.tag}`);
  const directViaFwd = `${fwd.url}/v2/${sfx.warm.repo}/manifests/${sfx.warm.tag}`;
  try {
    // The gate is really on: an image signed by an untrusted key is refused.
    await probe.get(viaUp(sfx.wrongKey), sfx.wrongKey.digest, 403);
    // Open the keep-alive connections (bench -> sigward, direct, forwarder; sigward -> forwarder -> upstream) and
    // warm the code paths on the warm image, which the cold images do not share.
    for (let i = 0; i < 3; i++) {
      await probe.get(direct(sfx.warm), sfx.warm.digest);
      await probe.get(viaUp(sfx.warm), sfx.warm.digest);
      await probe.get(viaFwd(sfx.warm), sfx.warm.digest);
      await probe.get(directViaFwd, sfx.warm.digest);
    }

    const s = {
      direct: [] as number[],
      cold: [] as number[],
      warm: [] as number[],
      added: [] as number[],
      budget: [] as number[],
      path: [] as number[],
      overPath: [] as number[],
      // The least node proxy asked the same two round trips (floor-server.ts /signed/): the manifest ceiling.
      floor: [] as number[],
      floorBudget: [] as number[],
      floorOverPath: [] as number[],
    };
    const cal = { delay0: [] as number[], delayed: [] as number[] };
    const fwdMs = {
      legacy0: [] as number[],
      legacyD: [] as number[],
      bundle0: [] as number[],
      bundleD: [] as number[],
    };
    const own = { legacy: [] as number[], bundle: [] as number[] };
    const reqs = { legacy: [] as number[], bundle: [] as number[] };
    const kinds = { legacy: emptyCounts(), bundle: emptyCounts() };
    const extra: { firstLegacy: unknown[]; firstBundle: unknown[] } = { firstLegacy: [], firstBundle: [] };

    /** One cold pull through the forwarder at `delay`; returns its ms and the requests it made upstream. */
    const throughFwd = async (
      img: SignedImage,
      delay: number,
    ): Promise<{ ms: number; own: number; n: number; kinds: Record<RequestKind, number>; log: unknown[] }> => {
      fwd.delayMs = delay;
      fwd.begin();
      const ms = await probe.get(viaFwd(img), img.digest);
      await sleep(5);
      if (fwd.inFlight() !== 0)
        throw new Error(`${fwd.inFlight()} upstream requests still in flight after the answer to ${viaFwd(img)}`);
      const r2 = (v: number | undefined): number | undefined =>
        v === undefined ? undefined : Math.round(v * 100) / 100;
      const log = fwd
        .requests()
        .map((e) => ({ kind: e.kind, path: e.path, atMs: r2(e.atMs), doneMs: r2(e.doneMs), status: e.status }));
      return { ms, own: ms - busyMs(fwd.requests()), n: fwd.requests().length, kinds: fwd.counts(), log };
    };

    for (let i = 0; i < settings.coldRounds; i++) {
      for (const v of COLD_VARIANTS) {
        const pre = sfx.cold[v][i]!;
        await prewarmSignatures(probe, stack.upstream.url, pre.repo, pre.tag, pre.digest);
      }
      const img = sfx.cold['legacy-direct'][i]!;
      const { sigMs } = await timeSignaturePath(probe, stack.upstream.url, img.repo, img.digest);
      const d = await probe.get(direct(img), img.digest);
      const c = await probe.get(viaUp(img), img.digest);
      const w = await probe.get(viaUp(img), img.digest);
      const f = await probe.get(`${stack.floor.url}/signed/v2/${img.repo}/manifests/${img.tag}`, img.digest);
      s.floor.push(f);
      s.floorBudget.push(f - 3 * d);
      s.floorOverPath.push(f - (d + sigMs));
      s.direct.push(d);
      s.cold.push(c);
      s.warm.push(w);
      s.added.push(c - d);
      s.budget.push(c - 3 * d);
      // sigward's path: the tag, then the `.sig` manifest (its layer is rebuilt from the repository's payload shape,
      // not fetched: proxy/payload-shapes.ts); the requests-upstream row shows what was asked.
      s.path.push(d + sigMs);
      s.overPath.push(c - (d + sigMs));

      fwd.delayMs = 0;
      cal.delay0.push(await probe.get(directViaFwd, sfx.warm.digest));
      fwd.delayMs = settings.delayMs;
      cal.delayed.push(await probe.get(directViaFwd, sfx.warm.digest));

      const l0 = await throughFwd(sfx.cold['legacy-fwd'][i]!, 0);
      const lD = await throughFwd(sfx.cold['legacy-fwd-delay'][i]!, settings.delayMs);
      const b0 = await throughFwd(sfx.cold['bundle-fwd'][i]!, 0);
      const bD = await throughFwd(sfx.cold['bundle-fwd-delay'][i]!, settings.delayMs);
      fwd.delayMs = 0;
      fwdMs.legacy0.push(l0.ms);
      fwdMs.legacyD.push(lD.ms);
      fwdMs.bundle0.push(b0.ms);
      fwdMs.bundleD.push(bD.ms);
      own.legacy.push(l0.own);
      own.bundle.push(b0.own);
      reqs.legacy.push(l0.n, lD.n);
      reqs.bundle.push(b0.n, bD.n);
      if (i === 0) {
        kinds.legacy = l0.kinds;
        kinds.bundle = b0.kinds;
        extra.firstLegacy = l0.log;
        extra.firstBundle = b0.log;
      }
      progress(
        `cold signed pull ${i + 1}/${settings.coldRounds}: direct ${d.toFixed(2)} ms, sigward ${c.toFixed(2)} ms (warm again ${w.toFixed(2)}); ` +
          `via forwarder +${settings.delayMs} ms/request: legacy ${l0.ms.toFixed(1)} -> ${lD.ms.toFixed(1)} ms (${l0.n} requests), ` +
          `bundle ${b0.ms.toFixed(1)} -> ${bD.ms.toFixed(1)} ms (${b0.n} requests), one direct request ${cal.delay0.at(-1)!.toFixed(1)} -> ${cal.delayed.at(-1)!.toFixed(1)} ms`,
      );
    }

    // One round trip's worth of delay as actually observed (timer lateness included), from the medians.
    const perTrip = median(cal.delayed) - median(cal.delay0);
    const depth = (delayed: number[], undelayed: number[]): number[] =>
      delayed.map((v, i) => (v - undelayed[i]!) / perTrip);
    const breakdown = (k: Record<RequestKind, number>): string =>
      Object.entries(k)
        .filter(([, n]) => n > 0)
        .map(([kind, n]) => `${n} ${kind}`)
        .join(', ');
    const depthNote = `added latency with ${settings.delayMs} ms held per upstream request / ${perTrip.toFixed(2)} ms (what it adds to one direct request through the forwarder); a direct GET is 1`;
    const rows: Row[] = [
      row(
        'signed.cold.ms',
        'cold signed pull by tag (legacy .sig)',
        'ms',
        'lower',
        { direct: s.direct, sigward: s.cold, ceiling: s.floor },
        {
          note: 'each round a signed image sigward has never seen; direct = a GET of the same manifest just before; ceiling = the least node proxy asking the same tag and .sig manifest one after the other (no check), just after',
        },
      ),
      row('signed.cold.added', 'cold signed pull, added over direct', 'ms', 'lower', { sigward: s.added }),
      row(
        'signed.cold.budget',
        'cold signed pull minus 3 direct round trips',
        'ms',
        'lower',
        { sigward: s.budget, ceiling: s.floorBudget },
        {
          note: "cold pull latency - 3 x the direct GET latency of the same round: sigward's own time when the path is 3 round trips",
        },
      ),
      row(
        'signed.cold.path',
        'cold signed pull, its round trips asked directly',
        'ms',
        'lower',
        { direct: s.path },
        {
          note: "per round, direct GETs of the tag and the .sig manifest (sigward's critical path: the layer is rebuilt, not fetched), added up",
        },
      ),
      row(
        'signed.cold.overpath',
        'cold signed pull minus its round trips asked directly',
        'ms',
        'lower',
        { sigward: s.overPath, ceiling: s.floorOverPath },
        {
          note: "cold pull latency - (direct tag + .sig manifest GETs of the same round): sigward's own time plus the hop to it",
        },
      ),
      row(
        'signed.cold.depth',
        'cold signed pull, sequential upstream round trips',
        'round trips',
        'lower',
        { sigward: depth(fwdMs.legacyD, fwdMs.legacy0) },
        { note: depthNote },
      ),
      row(
        'signed.cold.own',
        'cold signed pull, no upstream request in flight',
        'ms',
        'lower',
        { sigward: own.legacy },
        {
          note: "via the forwarder, no delay: client wait minus the time at least one upstream request was open (sigward's own work, the hop to it and through the forwarder)",
        },
      ),
      row(
        'signed.cold.requests',
        'cold signed pull, requests upstream',
        'requests',
        'lower',
        { sigward: reqs.legacy },
        { note: breakdown(kinds.legacy), reduce: 'max' },
      ),
      row(
        'signed.warmtag.ms',
        'signed pull by tag, warm (one GET)',
        'ms',
        'lower',
        { direct: s.direct, sigward: s.warm },
        { note: 'the same tag again right after its cold pull: tag resolved upstream, verdict from the cache' },
      ),
      row(
        'bundle.cold.ms',
        'cold signed pull by tag (v3 bundle), via forwarder',
        'ms',
        'lower',
        { direct: cal.delay0, sigward: fwdMs.bundle0 },
        { note: 'both through the forwarder with no delay; direct = one GET of a manifest' },
      ),
      row(
        'bundle.cold.depth',
        'cold signed pull (v3 bundle), sequential upstream round trips',
        'round trips',
        'lower',
        { sigward: depth(fwdMs.bundleD, fwdMs.bundle0) },
        { note: depthNote },
      ),
      row('bundle.cold.own', 'cold signed pull (v3 bundle), no upstream request in flight', 'ms', 'lower', {
        sigward: own.bundle,
      }),
      row(
        'bundle.cold.requests',
        'cold signed pull (v3 bundle), requests upstream',
        'requests',
        'lower',
        { sigward: reqs.bundle },
        { note: breakdown(kinds.bundle), reduce: 'max' },
      ),
    ];
    return { rows, extra: { ...extra, calibrationMs: cal } };
  } finally {
    fwd.delayMs = 0;
    await probe.close();
  }
}
