// Legacy signature checks per second on one core: verifySignature (src/verify/index.ts) in-process over a REAL cosign
// legacy signature (`cosign sign --key`, ECDSA P-256: test/fixtures/cimage-cosign-key-only, see its README). The key
// is parsed once, as sigward does at config load; each check then does what the gate does per signature layer:
// decode the annotation, verify ECDSA over the exact payload bytes, parse the payload strictly, compare the digest.
// Rounds of at least settings.microMs each; the median is reported. This runs in the benchmark's own process (one
// thread), while the daemons it started sit idle.
import { readFileSync } from 'node:fs';
import { digestOf } from '../../src/oci/digest.ts';
import { parsePublicKey, verifySignature } from '../../src/verify/index.ts';
import type { UntrustedLegacySignature, VerifyContext } from '../../src/verify/types.ts';
import { row, type Row } from '../rows.ts';
import { progress, type Settings } from '../settings.ts';

const DIR = new URL('../../test/fixtures/cimage-cosign-key-only/', import.meta.url);
const read = (name: string): Buffer => readFileSync(new URL(name, DIR));

function fixture(): { sig: UntrustedLegacySignature; ctx: VerifyContext } {
  const payload = read('payload.json');
  const sig: UntrustedLegacySignature = {
    format: 'legacy',
    source: 'cimage-cosign-key-only/signature-1',
    layerDigest: digestOf(payload),
    layerMediaType: read('layer-mediatype.txt').toString('utf8').trim(),
    annotations: JSON.parse(read('layer-annotations.json').toString('utf8')) as Record<string, string>,
    payload,
  };
  const ctx: VerifyContext = {
    digest: digestOf(read('image-manifest.json')),
    keys: [parsePublicKey('cosign', read('cosign.pub').toString('utf8'))],
  };
  return { sig, ctx };
}

/** Checks per second over one round of at least `ms`; throws if any check does not verify. */
function round(sig: UntrustedLegacySignature, ctx: VerifyContext, ms: number): number {
  const t0 = process.hrtime.bigint();
  const until = t0 + BigInt(ms) * 1_000_000n;
  let n = 0;
  let now = t0;
  while (now < until) {
    for (let i = 0; i < 64; i++) {
      if (!verifySignature(sig, ctx).verified)
        throw new Error('the fixture signature did not verify: the micro-benchmark would measure a failure path');
    }
    n += 64;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - t0) / 1e9);
}

export function verifyMicroScenario(settings: Settings): Row[] {
  const { sig, ctx } = fixture();
  const first = verifySignature(sig, ctx);
  if (!first.verified)
    throw new Error(`fixture signature does not verify: ${first.reason ?? '?'} ${first.message ?? ''}`);
  round(sig, ctx, 200); // JIT warm-up, not recorded
  const ops: number[] = [];
  for (let r = 0; r < Math.max(3, settings.rounds); r++) {
    ops.push(round(sig, ctx, settings.microMs));
    progress(`legacy signature checks round ${r + 1}: ${ops.at(-1)!.toFixed(0)}/s`);
  }
  return [
    row(
      'verify.legacy.ops',
      'legacy signature checks, one core (in-process)',
      'ops/s',
      'higher',
      { sigward: ops },
      {
        note: `verifySignature over a real cosign P-256 legacy signature, key parsed once; ${ops.length} rounds of >= ${settings.microMs} ms`,
      },
    ),
  ];
}
