// Coalescing: N (200) simultaneous cold GETs by tag of ONE signed image sigward has never verified, as when a fleet
// of nodes pulls a new release at once. sigward should resolve the tag once per burst and look the signatures up
// once: identical in-flight tag lookups share one upstream request, and one verification per (policy, repository,
// digest) runs at a time (single-flight in src/proxy/manifests.ts and src/proxy/gate.ts). The forwarder holds every
// upstream request for the scenario's delay (a registry across a network), so the whole herd arrives while the
// first lookup is still in flight; it counts the `.sig` manifest GETs (one per signature lookup) and the rest.
import { herdGet } from '../probe.ts';
import { row, type Row } from '../rows.ts';
import { progress, type Settings } from '../settings.ts';
import type { SignedFixtures } from '../signed-fixtures.ts';
import type { Stack } from '../stack.ts';

export async function signedHerdScenario(stack: Stack, sfx: SignedFixtures, settings: Settings): Promise<Row[]> {
  const fwd = stack.forwarder;
  const n = settings.herd;
  const sig: number[] = [];
  const tags: number[] = [];
  const total: number[] = [];
  const wall: number[] = [];
  try {
    for (const [r, img] of sfx.herd.entries()) {
      fwd.delayMs = settings.delayMs;
      fwd.begin();
      const res = await herdGet(stack.sigwardUrl(fwd.host, img.repo, `manifests/${img.tag}`), img.digest, n);
      const c = fwd.counts();
      sig.push(c['sig-manifest']);
      tags.push(c['manifest-tag']);
      total.push(fwd.requests().length);
      wall.push(res.wallMs);
      progress(
        `coalescing ${r + 1}/${sfx.herd.length}: ${n} simultaneous cold GETs of one signed digest -> ${c['sig-manifest']} .sig lookup(s), ` +
          `${c['manifest-tag']} tag lookup(s), ${fwd.requests().length} upstream requests in all; all ${n} answered 200 in ${res.wallMs.toFixed(0)} ms`,
      );
    }
  } finally {
    fwd.delayMs = 0;
  }
  const what = `${n} simultaneous cold GETs of one signed digest`;
  const note = `upstream requests held ${settings.delayMs} ms each; max over ${sfx.herd.length} bursts`;
  return [
    row('signed.herd.sig', `${what}: .sig lookups`, 'requests', 'lower', { sigward: sig }, { reduce: 'max', note }),
    row('signed.herd.tags', `${what}: tag lookups`, 'requests', 'lower', { sigward: tags }, { reduce: 'max', note }),
    row(
      'signed.herd.upstream',
      `${what}: upstream requests`,
      'requests',
      'lower',
      { sigward: total },
      { reduce: 'max', note },
    ),
    row('signed.herd.ms', `${what}: wall time`, 'ms', 'lower', { sigward: wall }),
  ];
}
