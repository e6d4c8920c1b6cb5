// The policy hash: sha256 hex over a canonical serialization of what the policy MEANS. Verdicts are cached under
// it, so it must change whenever a decision could change and should not change otherwise:
//   in:  default action, host aliases, each rule's name, kind, mode, canonical patterns, key names with their key ids
//        (sha256 of the SPKI DER: the key material, not the file path), threshold, required, annotations,
//        matchReference, platforms, attachments, signatureRepository, identities (with the fingerprint of the
//        trust root or CA they chain to: a changed trusted_root.json is a changed policy) and the tlog settings;
//   out: comments, formatting, file paths of keys, unused trust keys, and every ORDER that has no effect: the order of
//        mappings' fields, of policies (resolution never depends on it: equal-specificity ties are refused), of
//        patterns, keys and required keys inside a policy (all sets).
import { createHash } from 'node:crypto';
import type { HostNames } from './hosts.ts';
import type { CompiledRule, DefaultAction } from './types.ts';

/** JSON with object keys sorted at every level; arrays keep their order (callers sort the ones that are sets). */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const entries = Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(v);
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function ruleSemantics(r: CompiledRule): Record<string, unknown> {
  const base = { name: r.name, kind: r.kind, mode: r.mode, match: [...r.match].sort(byString) };
  if (r.kind !== 'signed') return base;
  return {
    ...base,
    keys: r.keys.map((k) => ({ name: k.name, keyId: k.keyId })).sort((a, b) => byString(a.name, b.name)),
    identities: r.identities
      .map((i) => ({
        name: i.name,
        authority: { kind: i.authority.kind, name: i.authority.name, fingerprint: i.authority.fingerprint },
        subject: 'exact' in i.subject ? { exact: i.subject.exact } : { regexp: i.subject.regexp },
        issuer:
          i.issuer === undefined ? null : 'exact' in i.issuer ? { exact: i.issuer.exact } : { regexp: i.issuer.regexp },
        github: i.github,
      }))
      .sort((a, b) => byString(a.name, b.name)),
    identityTlog: r.identityTlog,
    keyTlog: r.keyTlog === undefined ? null : { name: r.keyTlog.name, fingerprint: r.keyTlog.fingerprint },
    threshold: r.threshold,
    required: [...r.required].sort(byString),
    annotations: r.annotations,
    matchReference: r.matchReference,
    platforms: r.platforms,
    attachments: r.attachments,
    signatureRepository: r.signatureRepository ?? null,
  };
}

export function policyHash(defaultAction: DefaultAction, rules: readonly CompiledRule[], hosts: HostNames): string {
  const doc = {
    format: 'sigward-policy/1',
    default: defaultAction,
    hosts: hosts.table,
    rules: rules.map(ruleSemantics).sort((a, b) => byString(String(a.name), String(b.name))),
  };
  return createHash('sha256').update(canonicalJson(doc)).digest('hex');
}
