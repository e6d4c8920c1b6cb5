// From the signature checks of one digest (verify/ already did the crypto and the digest claim) to a Decision.
// A verified signature counts only when it names a key of the rule, carries every required annotation with the same
// STRING value (cosign's `-a` compares the CLI string with the decoded JSON value, so a number never matches),
// and, with matchReference, its signed docker-reference names the repository being pulled
// (cosign ignores that claim; containers/image enforces it). Threshold and required count DISTINCT keys.
// Signers are key names and identity names alike (verify/ matched certificates against the rule's identities).
// Material listed in `SignatureCheck.notEvaluated` (certificates, Rekor bundles, timestamps) is neither needed nor
// credited: unchecked evidence never makes a signature count.
import type { SignatureCheck } from '../verify/types.ts';
import { decision, describeRequirements, signatureLines } from './decision.ts';
import { DEFAULT_HOST_NAMES, referenceName, type HostNames } from './hosts.ts';
import { decideWithoutSignatures, platformRequirement } from './platforms.ts';
import type { Decision, EvalContext, Resolution, SignatureVerdict, SignedRule } from './types.ts';

function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean')
    return `${String(v)} (a ${typeof v}; only a string value can match)`;
  return `${JSON.stringify(v) ?? String(v)} (not a string; only a string value can match)`;
}

/** What becomes of one check under a signed rule. */
export function judgeSignature(
  rule: SignedRule,
  res: Resolution,
  check: SignatureCheck,
  hosts: HostNames,
): SignatureVerdict {
  const base = { source: check.source, format: check.format };
  if (!check.verified) {
    return {
      ...base,
      counted: false,
      signers: [],
      reason: check.reason ?? 'unknown-key',
      message: check.message ?? 'it did not verify',
    };
  }
  const accepted = new Set([...rule.keys.map((k) => k.name), ...rule.identities.map((i) => i.name)]);
  const signers = [...new Set(check.signers.filter((s) => accepted.has(s)))].sort();
  if (signers.length === 0) {
    const by =
      check.signers.length === 0
        ? 'no named key'
        : `key${check.signers.length === 1 ? '' : 's'} ${check.signers.join(', ')}`;
    return {
      ...base,
      counted: false,
      signers,
      reason: 'unknown-key',
      message: `verified by ${by}, which policy "${rule.name}" does not accept (it accepts ${[...accepted].join(', ')})`,
    };
  }
  const missing: string[] = [];
  for (const [k, want] of Object.entries(rule.annotations)) {
    const has = check.annotations !== undefined && Object.prototype.hasOwnProperty.call(check.annotations, k);
    const got = has ? check.annotations?.[k] : undefined;
    if (got === want) continue;
    missing.push(
      has
        ? `${k}: want ${JSON.stringify(want)}, signed ${describeValue(got)}`
        : `${k}: want ${JSON.stringify(want)}, not signed`,
    );
  }
  if (missing.length > 0) {
    return {
      ...base,
      counted: false,
      signers,
      reason: 'missing-annotation',
      message: `required annotation${missing.length === 1 ? '' : 's'} not met: ${missing.join('; ')}`,
    };
  }
  if (rule.matchReference) {
    const want = `${res.host}/${res.repository}`;
    const ref = check.dockerReference;
    if (ref === undefined) {
      return {
        ...base,
        counted: false,
        signers,
        reason: 'wrong-reference',
        message: `carries no signed docker-reference (bundle signatures have none), but the policy requires one naming ${want}`,
      };
    }
    const named = referenceName(hosts, ref);
    if (named !== want) {
      return {
        ...base,
        counted: false,
        signers,
        reason: 'wrong-reference',
        message: `signed for ${JSON.stringify(ref)}, not for ${want}`,
      };
    }
  }
  return { ...base, counted: true, signers };
}

function reasonList(verdicts: readonly SignatureVerdict[]): string {
  const counts = new Map<string, number>();
  for (const v of verdicts) counts.set(v.reason ?? 'unknown-key', (counts.get(v.reason ?? 'unknown-key') ?? 0) + 1);
  return [...counts].map(([r, n]) => (n === 1 ? r : `${r} x${n}`)).join(', ');
}

function evaluateSigned(
  rule: SignedRule,
  res: Resolution,
  checks: readonly SignatureCheck[],
  ctx: EvalContext,
  hosts: HostNames,
  coversChildren: boolean,
): Decision {
  const perSignature = checks.map((c) => judgeSignature(rule, res, c, hosts));
  const keyIdOf = new Map(rule.keys.map((k) => [k.name, k.keyId]));
  const signed = new Set<string>();
  for (const v of perSignature) if (v.counted) for (const s of v.signers) signed.add(s);
  const signers = [...signed].sort();
  // Distinct signers: a key counts by its key id; a certificate signature counts once, as its certificate's signer,
  // however many identities accepted it (one person cannot meet a threshold of two by matching two identities).
  const units = new Set<string>();
  perSignature.forEach((v, i) => {
    if (!v.counted) return;
    const cert = checks[i]?.certificateSigner;
    for (const s of v.signers) {
      const keyId = keyIdOf.get(s);
      units.add(keyId !== undefined ? `key ${keyId}` : cert !== undefined ? `certificate ${cert}` : `name ${s}`);
    }
  });
  const distinct = units.size;
  const missingRequired = rule.required.filter((r) => !signed.has(r));
  const lines = [describeRequirements(rule, res), ...signatureLines(perSignature)];
  const common = { mode: rule.mode, signers, perSignature, details: lines, coversChildren };
  const unmet: string[] = [];
  // Identities count like keys; a rule that has any says "signer" for both.
  const noun = rule.identities.length === 0 ? 'key' : 'signer';
  if (missingRequired.length > 0)
    unmet.push(`${noun}${missingRequired.length === 1 ? '' : 's'} ${missingRequired.join(', ')} did not sign`);
  if (distinct < rule.threshold) {
    unmet.push(
      `only ${distinct} distinct ${noun}${distinct === 1 ? '' : 's'} signed${signers.length > 0 ? ` (${signers.join(', ')})` : ''}, ${rule.threshold} are required`,
    );
  }

  if (checks.length === 0) {
    return decision(res, ctx, {
      ...common,
      outcome: 'no-signatures',
      satisfied: false,
      short: `no signatures found (policy ${rule.name})`,
      why: 'no signatures were found for this digest',
    });
  }
  if (signers.length === 0) {
    const n = checks.length;
    return decision(res, ctx, {
      ...common,
      outcome: 'no-valid-signature',
      satisfied: false,
      short: `no valid signature (${n} found: ${reasonList(perSignature)})`,
      why: `none of the ${n} signature${n === 1 ? '' : 's'} found counts`,
    });
  }
  if (missingRequired.length > 0) {
    return decision(res, ctx, {
      ...common,
      outcome: 'required-signer-missing',
      satisfied: false,
      short: `required signer missing: ${missingRequired.join(', ')}`,
      why: unmet.join('; '),
    });
  }
  if (distinct < rule.threshold) {
    return decision(res, ctx, {
      ...common,
      outcome: 'threshold-not-met',
      satisfied: false,
      short: `threshold not met: ${distinct} of ${rule.threshold} distinct ${noun}s signed`,
      why: unmet.join('; '),
    });
  }
  return decision(res, ctx, {
    ...common,
    outcome: 'verified',
    satisfied: true,
    short: `verified: signed by ${signers.join(', ')}`,
    why: `signed by ${signers.join(', ')}`,
  });
}

/** Decide `ctx.digest` from its signature checks. Rules that need no signature (and multi-arch pass-through or
 * index-only cases) give the same decision as decideWithoutSignatures, whatever `checks` holds. */
export function evaluate(
  res: Resolution,
  checks: readonly SignatureCheck[],
  ctx: EvalContext,
  hosts: HostNames = DEFAULT_HOST_NAMES,
): Decision {
  const pre = decideWithoutSignatures(res, ctx);
  if (pre !== undefined) return pre;
  const rule = res.rule as SignedRule;
  const req = platformRequirement(rule, ctx.kind ?? 'single');
  return evaluateSigned(rule, res, checks, ctx, hosts, req.verify === 'own-signature' && req.coversChildren);
}
