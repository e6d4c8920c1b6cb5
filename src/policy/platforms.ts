// Multi-arch: which manifests need their own signature. cosign signs only the index unless `--recursive`, and
// runtimes then fetch the platform manifests by digest; containers/image instead checks
// the platform manifest it pulls (podman does so). The proxy sees both GETs, so each policy chooses:
//
//   platforms | index                          | child (listed in a verified index)  | single (any other manifest)
//   either    | own signature; covers children | passes through that index           | own signature
//   index     | own signature; covers children | passes through that index           | DENIED: only reachable via a verified index
//   child     | served unverified (see below)  | own signature                       | own signature
//   both      | own signature                  | own signature                       | own signature
//
// `child`: the index itself passes without a signature. It is only a list of pointers that no runtime executes, and
// every manifest it lists is gated on its own signature when fetched; requiring an index signature would make
// per-platform-only signing (the containers/image way) unusable. It never covers its children.
// A child's own signature never makes an index pass in any mode (an index is judged only by signatures of its digest).
// `covers children` means: once such an index passes on its own signature, the image manifests it lists (same
// repository, same policy hash) may be decided as kind `child` (Decision.coversChildren tells the gate).
import { decision } from './decision.ts';
import type { Decision, EvalContext, ManifestKind, Platforms, Resolution } from './types.ts';

export type PlatformRequirement =
  | { readonly verify: 'own-signature'; readonly coversChildren: boolean }
  | { readonly verify: 'none'; readonly because: 'covered-by-index' | 'index-pass-through' }
  | { readonly verify: 'deny'; readonly because: 'index-only' };

const OWN = Object.freeze({ verify: 'own-signature', coversChildren: false } as const);
const OWN_COVERS = Object.freeze({ verify: 'own-signature', coversChildren: true } as const);
const COVERED = Object.freeze({ verify: 'none', because: 'covered-by-index' } as const);
const PASS = Object.freeze({ verify: 'none', because: 'index-pass-through' } as const);
const INDEX_ONLY = Object.freeze({ verify: 'deny', because: 'index-only' } as const);

const TABLE: Readonly<Record<Platforms, Readonly<Record<ManifestKind, PlatformRequirement>>>> = {
  either: { index: OWN_COVERS, child: COVERED, single: OWN },
  index: { index: OWN_COVERS, child: COVERED, single: INDEX_ONLY },
  child: { index: PASS, child: OWN, single: OWN },
  both: { index: OWN, child: OWN, single: OWN },
};

export function platformRequirement(rule: { readonly platforms: Platforms }, kind: ManifestKind): PlatformRequirement {
  return TABLE[rule.platforms][kind];
}

function defaultDecision(res: Resolution, ctx: EvalContext): Decision {
  const name = `${res.host}/${res.repository}`;
  if (res.defaultAction === 'allow') {
    return decision(res, ctx, {
      outcome: 'default-allow',
      satisfied: true,
      mode: 'enforce',
      short: `no policy matches ${name}; default allow`,
      why: `no policy matches ${name} and policy.default is allow, so it is served without any signature check`,
    });
  }
  return decision(res, ctx, {
    outcome: 'no-policy',
    satisfied: false,
    mode: res.defaultAction === 'warn' ? 'warn' : 'enforce',
    short: `no policy matches ${name}`,
    why: `no policy matches ${name} (policy.default is ${res.defaultAction})`,
    details: [
      `To allow it, add an entry under policy.policies whose match covers it, for example ` +
        `{ name: my-images, match: ["${name}"], keys: [<a name under trust.keys>] }, ` +
        `or { name: ..., match: ["${name}"], allow: unsigned } to let it through without a signature.`,
    ],
  });
}

/** The decision when no signature needs to be fetched, or undefined when the gate must verify signatures of
 * `ctx.digest` with `rule.keys` and call evaluate(). */
export function decideWithoutSignatures(res: Resolution, ctx: EvalContext): Decision | undefined {
  const rule = res.rule;
  if (rule === null) return defaultDecision(res, ctx);
  if (rule.kind === 'reject') {
    return decision(res, ctx, {
      outcome: 'rejected',
      satisfied: false,
      mode: rule.mode,
      short: `rejected by policy ${rule.name}`,
      why: 'the policy rejects every image it matches (reject: true)',
    });
  }
  if (rule.kind === 'unsigned') {
    return decision(res, ctx, {
      outcome: 'unsigned-allowed',
      satisfied: true,
      mode: 'enforce',
      short: `unsigned allowed by policy ${rule.name}`,
      why: 'the policy allows it without a signature (allow: unsigned)',
    });
  }
  const req = platformRequirement(rule, ctx.kind ?? 'single');
  if (req.verify === 'own-signature') return undefined;
  if (req.verify === 'deny') {
    return decision(res, ctx, {
      outcome: 'index-only',
      satisfied: false,
      mode: rule.mode,
      short: `only served via a verified index (policy ${rule.name})`,
      why: 'the policy has platforms: index, so an image manifest is served only when it is listed in a verified index of the same repository',
      details: [
        'Pull the image by its tag or index digest, or set platforms: either to also accept a manifest signed on its own.',
      ],
    });
  }
  if (req.because === 'covered-by-index') {
    const via = ctx.coveredBy === undefined ? 'a verified index' : `the verified index ${ctx.coveredBy}`;
    return decision(res, ctx, {
      outcome: 'covered-by-index',
      satisfied: true,
      mode: rule.mode,
      short: `listed in ${ctx.coveredBy === undefined ? 'a verified index' : `verified index ${ctx.coveredBy.slice(0, 19)}`}`,
      why: `it is listed in ${via} of the same repository (platforms: ${rule.platforms})`,
    });
  }
  return decision(res, ctx, {
    outcome: 'index-pass-through',
    satisfied: true,
    mode: rule.mode,
    short: 'index served; each platform manifest needs its own signature',
    why: 'the policy has platforms: child, so the index is served as is and every platform manifest it lists must carry its own signature',
  });
}
