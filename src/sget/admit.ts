// Who may download what through /sget. One rule per request shape, so a person can predict it:
//
//   by tag            only a `signed` policy whose verification of the tag's CURRENT digest passes. No policy,
//                     `allow: unsigned`, `reject`, warn mode and `policy.default` never let a tag through: a tag is a
//                     mutable name, and serving whatever it points to unchecked is what this endpoint exists to stop.
//   by manifest digest  exactly the manifest gate's decision for that digest (what a pull of `repo@digest` through
//                     sigward gets): the digest pins the bytes; a `signed` policy still needs the signature, `reject`
//                     and a deny default still refuse, warn mode serves with a Warning header.
//   by blob digest    the same, except that a blob carries no signature of its own: under a `signed` policy it is
//                     refused (download the artifact by tag or manifest digest instead).
import { SigwardError } from '../errors.ts';
import type { Digest } from '../oci/digest.ts';
import type { CompiledPolicy, Decision, Resolution } from '../policy/types.ts';
import type { Target } from '../proxy/target.ts';

/** Outcomes that stem from a signature verified under a `signed` policy (own signature, or a verified index). */
const SIGNATURE_OUTCOMES = new Set(['verified', 'covered-by-index']);

function denied(message: string, reason: string, detail: Record<string, unknown>): SigwardError {
  return new SigwardError('DENIED', message, { reason, detail });
}

function where(target: Target): string {
  return `${target.upstream.host}/${target.repository}`;
}

/** By tag, before any upstream call: only a `signed` policy can possibly let it through. */
export function preflightTag(policy: CompiledPolicy, target: Target, tag: string): Resolution {
  const res = policy.resolve(target.upstream.host, target.repository);
  const rule = res.rule;
  if (rule?.kind === 'signed') return res;
  const image = `${where(target)}:${tag}`;
  const byDigest = `/sget/${where(target)}@sha256:<hex>`;
  const why =
    rule === null
      ? `no policy matches ${where(target)} (policy.default is ${res.defaultAction}), so no signature vouches for what the tag points to`
      : rule.kind === 'unsigned'
        ? `policy "${rule.name}" allows ${where(target)} without a signature (allow: unsigned), so nothing vouches for what the tag points to`
        : `policy "${rule.name}" rejects ${where(target)}`;
  const fix =
    rule?.kind === 'reject'
      ? ''
      : `\nA tag can be moved to any content, so sget downloads by tag only under a policy with keys. Add one for ${where(target)}, or download by a digest you trust: ${byDigest}.`;
  throw denied(
    `sget refuses ${image}: ${why}.${fix}`,
    rule?.kind === 'reject' ? `rejected by policy ${rule.name}` : 'sget by tag needs a signing policy',
    {
      policy: rule?.name ?? '(default)',
      outcome: rule === null ? 'no-policy' : rule.kind === 'unsigned' ? 'unsigned-allowed' : 'rejected',
    },
  );
}

/** By tag, after the gate decided on the digest the tag resolved to: a passing signature check and nothing less. */
export function judgeTag(decision: Decision, target: Target, tag: string, digest: Digest): void {
  if (decision.allow && !decision.wouldDeny && SIGNATURE_OUTCOMES.has(decision.outcome)) return;
  const detail = { policy: decision.policyName, outcome: decision.outcome, digest };
  if (!decision.allow) throw denied(decision.message, decision.summary, detail);
  const details = decision.message.split('\n').slice(1);
  const why = decision.wouldDeny
    ? [
        `sget refuses ${where(target)}:${tag} (${digest}): policy "${decision.policyName}" would deny it (${decision.summary}); its warn mode lets pulls through, never a download by tag.`,
        ...details,
      ].join('\n')
    : `sget refuses ${where(target)}:${tag} (${digest}): ${decision.message} That is not a signature check of this digest, which a download by tag needs.`;
  throw denied(
    why,
    decision.wouldDeny
      ? 'no valid signature (warn mode does not apply to sget by tag)'
      : 'sget by tag needs a verified signature',
    detail,
  );
}

/** By manifest digest: the gate's decision as is. */
export function judgeDigest(decision: Decision, digest: Digest): void {
  if (!decision.allow)
    throw denied(decision.message, decision.summary, {
      policy: decision.policyName,
      outcome: decision.outcome,
      digest,
    });
}

/** By blob digest: decided without signatures; a `signed` policy refuses (there is no manifest to check). */
export function judgeBlob(policy: CompiledPolicy, target: Target, digest: Digest): Decision {
  const res = policy.resolve(target.upstream.host, target.repository);
  const decision = policy.decideWithoutSignatures(res, { digest, kind: 'single' });
  if (decision === undefined || res.rule?.kind === 'signed') {
    const name = res.rule?.name ?? '(default)';
    throw denied(
      `sget refuses blob ${where(target)}@${digest}: policy "${name}" requires signatures, and signatures belong to artifacts (manifests), not to bare blobs.\n` +
        `Download the artifact instead: /sget/${where(target)}:<tag> or /sget/${where(target)}@sha256:<manifest hex>.`,
      `blob refused: policy ${name} requires a signed artifact`,
      { policy: name, outcome: 'signature-required', digest },
    );
  }
  judgeDigest(decision, digest);
  return decision;
}
