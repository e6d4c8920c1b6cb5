// Building a Decision: the allow/deny bit, the warn-mode twist, and the words. `summary` goes into the HTTP reason
// phrase (the only text containerd shows: ASCII, one short line); `message` goes into the 403 body and the logs and
// names the image, the digest, the policy, every signature seen and why each did or did not count (fail
// closed and say why).
import { clip } from '../util/clip.ts';
import { deepFreeze } from './freeze.ts';
import type {
  Decision,
  DecisionOutcome,
  EvalContext,
  Mode,
  Resolution,
  SignatureVerdict,
  SignedRule,
} from './types.ts';

export const DEFAULT_POLICY_NAME = '(default)';
export const MAX_SUMMARY = 100;

export function shortDigest(digest: string): string {
  const i = digest.indexOf(':');
  return i < 0 ? digest.slice(0, 19) : digest.slice(0, i + 13);
}

/** `host/repo:tag@digest` (tag only when the client asked by tag; digest only when known: a request refused before
 * anything was fetched has none). */
export function displayRef(res: Resolution, ctx: EvalContext): string {
  return `${res.host}/${res.repository}${ctx.tag === undefined ? '' : `:${ctx.tag}`}${ctx.digest === '' ? '' : `@${ctx.digest}`}`;
}

function list(names: readonly string[]): string {
  return names.join(', ');
}

/** What a signed rule asks for, as one sentence. */
export function describeRequirements(rule: SignedRule, res: Resolution): string {
  const keys = rule.keys.map((k) => k.name);
  const ids = rule.identities.map(describeIdentity);
  const parts: string[] = [];
  if (ids.length === 0) {
    parts.push(
      rule.threshold > 1
        ? `valid signatures by at least ${rule.threshold} distinct keys of ${list(keys)}`
        : `a valid signature by ${keys.length === 1 ? 'the key' : 'any of the keys'} ${list(keys)}`,
    );
  } else {
    const signers = [
      ...(keys.length === 0 ? [] : [`${keys.length === 1 ? 'the key' : 'the keys'} ${list(keys)}`]),
      `${ids.length === 1 ? 'the identity' : 'the identities'} ${ids.join('; ')}`,
    ].join(' or ');
    parts.push(
      rule.threshold > 1
        ? `valid signatures by at least ${rule.threshold} distinct signers of ${signers}`
        : `a valid signature by ${keys.length + ids.length === 1 ? '' : 'any of '}${signers}`,
    );
    if (rule.identities.some((i) => i.authority.kind === 'root')) {
      parts.push(
        rule.identityTlog ? 'with certificates logged in a transparency log' : 'with certificates timestamped',
      );
    }
  }
  if (rule.keyTlog !== undefined && keys.length > 0)
    parts.push(`key signatures logged in trust root ${rule.keyTlog.name}`);
  if (rule.required.length > 0) {
    const noun = ids.length === 0 ? ['key', 'each of the keys'] : ['the signer', 'each of the signers'];
    parts.push(`including ${rule.required.length === 1 ? noun[0] : noun[1]} ${list(rule.required)}`);
  }
  const ann = Object.entries(rule.annotations);
  if (ann.length > 0)
    parts.push(
      `carrying the signed annotation${ann.length === 1 ? '' : 's'} ${ann.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}`,
    );
  if (rule.matchReference) parts.push(`whose docker-reference names ${res.host}/${res.repository}`);
  return `Policy "${rule.name}" requires ${parts.join(', ')}.`;
}

function describeIdentity(i: SignedRule['identities'][number]): string {
  const m = (x: { exact: string } | { regexp: string }): string => ('exact' in x ? x.exact : `/${x.regexp}/`);
  const from =
    i.authority.kind === 'ca' ? `CA ${i.authority.name}` : i.issuer === undefined ? 'any issuer' : m(i.issuer);
  const gh = Object.entries(i.github).map(([k, v]) => `${k}=${v}`);
  return `${i.name} (${m(i.subject)} from ${from}${gh.length > 0 ? `, github ${gh.join(' ')}` : ''})`;
}

/** Signatures listed one per line; past them, identical outcomes are grouped (a hostile image may list thousands). */
export const MAX_LISTED_SIGNATURES = 10;
/** Groups of identical outcomes shown after the listed signatures; further ones are merged by reason code. */
export const MAX_OUTCOME_GROUPS = 5;
/** Longest line about one signature or group: messages may quote upstream-chosen text. */
export const MAX_SIGNATURE_LINE = 400;

function clipLine(line: string): string {
  return clip(line, MAX_SIGNATURE_LINE, { marker: '...', ascii: false });
}

function outcomeText(v: SignatureVerdict): string {
  return v.counted
    ? `counted (signed by ${list(v.signers)})`
    : `not counted: ${v.reason ?? 'unknown-key'}${v.message === undefined ? '' : `: ${v.message}`}`;
}

/** The lines about the signatures seen: the first MAX_LISTED_SIGNATURES one by one, the rest as "and N more (same
 * reason: …)" per identical outcome, so a denial's size does not grow with the number of signatures listed. */
export function signatureLines(verdicts: readonly SignatureVerdict[]): string[] {
  if (verdicts.length === 0) return ['No signatures were found for this digest.'];
  const head = `${verdicts.length} signature${verdicts.length === 1 ? '' : 's'} found:`;
  const listed = verdicts
    .slice(0, MAX_LISTED_SIGNATURES)
    .map((v, i) => clipLine(`  ${i + 1}. ${v.source} [${v.format}]: ${outcomeText(v)}`));
  const groups = new Map<string, { n: number; reason: string }>();
  for (const v of verdicts.slice(MAX_LISTED_SIGNATURES)) {
    const text = outcomeText(v);
    const g = groups.get(text);
    if (g) g.n++;
    else groups.set(text, { n: 1, reason: v.counted ? 'counted' : `not counted: ${v.reason ?? 'unknown-key'}` });
  }
  const all = [...groups];
  const grouped = all
    .slice(0, MAX_OUTCOME_GROUPS)
    .map(([text, g]) => clipLine(`  and ${g.n} more (same ${g.reason === 'counted' ? 'outcome' : 'reason'}: ${text})`));
  const byReason = new Map<string, { n: number; kinds: number }>();
  for (const [, g] of all.slice(MAX_OUTCOME_GROUPS)) {
    const r = byReason.get(g.reason) ?? { n: 0, kinds: 0 };
    byReason.set(g.reason, { n: r.n + g.n, kinds: r.kinds + 1 });
  }
  const merged = [...byReason].map(
    ([reason, r]) => `  and ${r.n} more ${reason} (${r.kinds} different message${r.kinds === 1 ? '' : 's'})`,
  );
  return [head, ...listed, ...grouped, ...merged];
}

export interface Outcome {
  readonly outcome: DecisionOutcome;
  readonly satisfied: boolean;
  readonly mode: Mode;
  /** The reason in a few words (for `summary`). */
  readonly short: string;
  /** The reason as a clause (for the first line of `message`). */
  readonly why: string;
  /** Further lines: requirements, signatures, how to fix. */
  readonly details?: readonly string[];
  readonly signers?: readonly string[];
  readonly perSignature?: readonly SignatureVerdict[];
  readonly coversChildren?: boolean;
}

export function decision(res: Resolution, ctx: EvalContext, o: Outcome): Decision {
  const policyName = res.rule?.name ?? DEFAULT_POLICY_NAME;
  const by = res.rule === null ? '' : ` by policy "${policyName}" (matched "${res.matchedPattern}")`;
  const ref = displayRef(res, ctx);
  const head = o.satisfied
    ? `${ref} is allowed${by}: ${o.why}.`
    : o.mode === 'warn'
      ? `${ref} would be denied${by}, but is served because ${res.rule === null ? 'policy.default is warn' : 'the policy is in warn mode'}: ${o.why}.`
      : `${ref} is denied${by}: ${o.why}.`;
  return deepFreeze({
    allow: o.satisfied || o.mode === 'warn',
    wouldDeny: !o.satisfied && o.mode === 'warn',
    mode: o.mode,
    outcome: o.outcome,
    policyName,
    matchedPattern: res.matchedPattern,
    signers: [...(o.signers ?? [])],
    coversChildren: o.satisfied && (o.coversChildren ?? false),
    // The reason phrase: printable ASCII only, one short line.
    summary: clip(o.short, MAX_SUMMARY, { marker: '...' }),
    message: [head, ...(o.details ?? [])].join('\n'),
    perSignature: [...(o.perSignature ?? [])],
  });
}
