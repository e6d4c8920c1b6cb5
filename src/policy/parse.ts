// The `policy` section: YAML values -> rules, every problem reported with its YAML path. Cross-rule checks (equally
// specific overlapping patterns) are in compile.ts.
import {
  isObj,
  readBool,
  readEnum,
  readInt,
  readList,
  readObj,
  readString,
  type Path,
  type Problems,
} from '../util/yaml-reader.ts';
import type { TrustedKey } from '../verify/types.ts';
import { parsePattern, type Pattern } from './glob.ts';
import { isHost, isRepositoryName, looksLikeHost } from '../oci/reference.ts';
import { canonicalName } from './hosts.ts';
import type { HostNames } from './hosts.ts';
import { NAME_RE } from './trust.ts';
import type { Authorities } from './authorities.ts';
import { readIdentities } from './identities.ts';
import type { Attachments, CompiledRule, DefaultAction, Mode, Platforms } from './types.ts';

export interface ParsedRule {
  readonly rule: CompiledRule;
  /** Each parsed pattern with its index in the rule's `match` list, for problem paths. */
  readonly patterns: readonly { readonly pattern: Pattern; readonly at: number }[];
  /** Index in policy.policies, for problem paths. */
  readonly index: number;
}

export interface RuleContext {
  readonly keys: ReadonlyMap<string, TrustedKey>;
  /** Every name declared under trust.keys, including those whose key failed to load (already reported). */
  readonly declared: ReadonlySet<string>;
  readonly hosts: HostNames;
  readonly authorities: Authorities;
}

const RULE_KEYS = [
  'name',
  'match',
  'keys',
  'threshold',
  'required',
  'annotations',
  'matchReference',
  'mode',
  'platforms',
  'attachments',
  'signatureRepository',
  'identities',
  'root',
  'tlog',
  'allow',
  'reject',
] as const;
const SIGNATURE_FIELDS = [
  'keys',
  'threshold',
  'required',
  'annotations',
  'matchReference',
  'platforms',
  'attachments',
  'signatureRepository',
  'identities',
  'root',
  'tlog',
] as const;

/** Distinct names with the list index each was written at. */
function readNames(v: unknown, path: Path, problems: Problems, what: string): { name: string; at: number }[] {
  const out: { name: string; at: number }[] = [];
  (readList(v, path, problems) ?? []).forEach((item, at) => {
    const name = readString(item, [...path, at], problems);
    if (name === undefined) return;
    if (out.some((x) => x.name === name)) problems.add([...path, at], `${what} "${name}" is listed twice`);
    else out.push({ name, at });
  });
  return out;
}

function readAnnotations(v: unknown, path: Path, problems: Problems): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === undefined || v === null) return out;
  if (!isObj(v)) {
    problems.add(path, 'must be a mapping of annotation name to required string value, e.g. { env: prod }');
    return out;
  }
  for (const [k, val] of Object.entries(v)) {
    if (typeof val === 'string') out[k] = val;
    else {
      // cosign compares the CLI string with the decoded JSON value: only strings can match.
      problems.add(
        [...path, k],
        `must be a string; annotation values are compared as strings, like cosign verify -a (quote it: "${String(val)}")`,
      );
    }
  }
  return out;
}

/** cosign's COSIGN_REPOSITORY: `<host>/<repository>` where the signatures of every image this policy matches are
 * stored. The host must be a configured upstream (checked by the config loader). */
function readSignatureRepository(
  v: unknown,
  path: Path,
  problems: Problems,
  hosts: HostNames,
): { host: string; repository: string } | undefined {
  const s = readString(v, path, problems);
  if (s === undefined) return undefined;
  const slash = s.indexOf('/');
  const host = slash > 0 ? s.slice(0, slash) : '';
  const repository = slash > 0 ? s.slice(slash + 1) : '';
  if (!isHost(host) || !looksLikeHost(host) || !isRepositoryName(repository)) {
    problems.add(
      path,
      `must be <registry host>/<repository> such as ghcr.io/acme/signatures, got ${JSON.stringify(s)}`,
    );
    return undefined;
  }
  return canonicalName(hosts, host, repository);
}

/** The rule's Fulcio trust root: its `root:`, else the only one configured. */
function ruleRoot(o: Record<string, unknown>, path: Path, problems: Problems, ctx: RuleContext) {
  const { roots, declaredRoots } = ctx.authorities;
  const name = readString(o.root, [...path, 'root'], problems);
  if (name !== undefined) {
    if (!declaredRoots.has(name)) {
      problems.add(
        [...path, 'root'],
        `no trust root named "${name}" under trust.roots (declared: ${[...declaredRoots].join(', ') || 'none'})`,
      );
    }
    return { root: roots.get(name), noRoot: '' };
  }
  if (declaredRoots.size === 1) {
    const [only] = declaredRoots;
    return { root: only === undefined ? undefined : roots.get(only), noRoot: '' };
  }
  return {
    root: undefined,
    noRoot:
      declaredRoots.size === 0
        ? 'a keyless identity needs a Sigstore trust root: add one under trust.roots (config/ ships the public-good trusted_root.json), or give `ca:` for a private CA'
        : `${declaredRoots.size} trust roots are configured: say which one this policy uses with \`root:\``,
  };
}

function readSigned(o: Record<string, unknown>, path: Path, problems: Problems, ctx: RuleContext) {
  const listed = readNames(o.keys, [...path, 'keys'], problems, 'key');
  const names = listed.map((x) => x.name);
  const { root, noRoot } = ruleRoot(o, path, problems, ctx);
  const identities = readIdentities(o.identities, [...path, 'identities'], problems, {
    authorities: ctx.authorities,
    root,
    noRoot,
  });
  const hasIdentities = Array.isArray(o.identities) && o.identities.length > 0;
  const noKeys = o.keys === undefined || o.keys === null || (Array.isArray(o.keys) && o.keys.length === 0);
  if (noKeys && !hasIdentities) {
    problems.add(
      [...path, 'keys'],
      'is required: the names of trust.keys entries whose signature this policy accepts, or `identities:` for ' +
        'certificate (keyless) signatures (or use `allow: unsigned` / `reject: true`)',
    );
  }
  const declared = [...ctx.declared].join(', ') || 'none';
  for (const { name, at } of listed) {
    if (!ctx.declared.has(name))
      problems.add([...path, 'keys', at], `no key named "${name}" under trust.keys (declared: ${declared})`);
    if (identities.some((i) => i.name === name))
      problems.add(
        [...path, 'keys', at],
        `"${name}" is also the name of an identity of this policy; names must differ`,
      );
  }
  const signerNames = [...names, ...identities.map((i) => i.name)];
  const tlog = readEnum<'required' | 'optional'>(o.tlog, [...path, 'tlog'], problems, ['required', 'optional']);
  const fulcio = identities.some((i) => i.authority.kind === 'root');
  if (tlog === 'required' && !fulcio && root === undefined) {
    problems.add(
      [...path, 'tlog'],
      'is required, but this policy has no Sigstore trust root to check log entries against: add one under trust.roots (and `root:` here when there are several)',
    );
  }
  const threshold = readInt(o.threshold, [...path, 'threshold'], problems, { min: 1, max: 1000 });
  if (threshold !== undefined && signerNames.length > 0 && threshold > signerNames.length) {
    const n = signerNames.length;
    problems.add(
      [...path, 'threshold'],
      identities.length === 0
        ? `is ${threshold}, but keys lists only ${n} key${n === 1 ? '' : 's'}: a threshold counts distinct keys of \`keys\``
        : `is ${threshold}, but keys and identities name only ${n} signer${n === 1 ? '' : 's'}: a threshold counts distinct keys and identities`,
    );
  }
  const required = readNames(o.required, [...path, 'required'], problems, 'required key');
  for (const { name, at } of required) {
    if (!signerNames.includes(name))
      problems.add(
        [...path, 'required', at],
        `"${name}" is not in this policy's keys or identities (${signerNames.join(', ') || 'none'}); add it there too`,
      );
  }
  const signatureRepository = readSignatureRepository(
    o.signatureRepository,
    [...path, 'signatureRepository'],
    problems,
    ctx.hosts,
  );
  return {
    ...(signatureRepository !== undefined ? { signatureRepository } : {}),
    keys: names.flatMap((n) => (ctx.keys.has(n) ? [ctx.keys.get(n) as TrustedKey] : [])),
    identities,
    identityTlog: tlog !== 'optional',
    ...(tlog === 'required' && root !== undefined ? { keyTlog: root } : {}),
    threshold: threshold ?? 1,
    required: required.map((x) => x.name),
    annotations: readAnnotations(o.annotations, [...path, 'annotations'], problems),
    matchReference: readBool(o.matchReference, [...path, 'matchReference'], problems) ?? false,
    platforms:
      readEnum<Platforms>(o.platforms, [...path, 'platforms'], problems, ['either', 'index', 'child', 'both']) ??
      'either',
    attachments:
      readEnum<Attachments>(o.attachments, [...path, 'attachments'], problems, ['pass', 'verify', 'deny']) ?? 'pass',
  };
}

function parseRule(v: unknown, index: number, problems: Problems, ctx: RuleContext): ParsedRule | undefined {
  const path: Path = ['policy', 'policies', index];
  const o = readObj(v, path, problems, RULE_KEYS);
  if (!o) {
    if (v === undefined || v === null) problems.add(path, 'must be a mapping with at least `name` and `match`');
    return undefined;
  }
  const name = readString(o.name, [...path, 'name'], problems);
  if (o.name === undefined)
    problems.add([...path, 'name'], 'is required: a short name shown in logs and denial messages');
  else if (name !== undefined && !NAME_RE.test(name))
    problems.add(
      [...path, 'name'],
      `"${name}" must be 1-64 characters of A-Z a-z 0-9 . _ - (starting with a letter or digit)`,
    );

  const patterns: { pattern: Pattern; at: number }[] = [];
  const match = readList(o.match, [...path, 'match'], problems);
  if (match === undefined || match.length === 0) {
    if (o.match === undefined || o.match === null || Array.isArray(o.match)) {
      problems.add([...path, 'match'], 'is required: a list of <host>/<repository> globs, e.g. ["ghcr.io/acme/**"]');
    }
  }
  (match ?? []).forEach((m, j) => {
    const s = readString(m, [...path, 'match', j], problems);
    if (s === undefined) return;
    const p = parsePattern(s, ctx.hosts);
    if (p.ok) patterns.push({ pattern: p.pattern, at: j });
    else problems.add([...path, 'match', j], p.problem);
  });

  const allow = readEnum(o.allow, [...path, 'allow'], problems, ['unsigned']);
  const reject = readBool(o.reject, [...path, 'reject'], problems) === true;
  if (allow !== undefined && reject) problems.add(path, 'set `allow: unsigned` or `reject: true`, not both');
  const kind = allow === 'unsigned' ? 'unsigned' : reject ? 'reject' : 'signed';
  if (kind !== 'signed') {
    const what =
      kind === 'unsigned' ? '`allow: unsigned` (no signature is checked)' : '`reject: true` (every pull is refused)';
    const unused = kind === 'unsigned' ? [...SIGNATURE_FIELDS, 'mode'] : SIGNATURE_FIELDS;
    for (const f of unused) if (o[f] !== undefined) problems.add([...path, f], `has no effect with ${what}; remove it`);
  }
  const mode = readEnum<Mode>(o.mode, [...path, 'mode'], problems, ['enforce', 'warn']) ?? 'enforce';
  // Read the signature fields even when the name is missing, so their problems are reported in the same run.
  const signed = kind === 'signed' ? readSigned(o, path, problems, ctx) : undefined;
  if (name === undefined) return undefined;
  const base = { name, match: patterns.map((p) => p.pattern.text), mode };
  if (kind === 'unsigned') return { rule: { ...base, kind, mode: 'enforce' }, patterns, index };
  if (signed === undefined) return { rule: { ...base, kind: 'reject' }, patterns, index };
  return { rule: { ...base, kind: 'signed', ...signed }, patterns, index };
}

export function parsePolicySection(
  raw: unknown,
  problems: Problems,
  ctx: RuleContext,
): { defaultAction: DefaultAction; rules: ParsedRule[] } {
  const policy = readObj(raw, ['policy'], problems, ['default', 'policies']);
  const defaultAction =
    readEnum<DefaultAction>(policy?.default, ['policy', 'default'], problems, ['deny', 'warn', 'allow']) ?? 'deny';
  const rules: ParsedRule[] = [];
  const seen = new Map<string, number>();
  (readList(policy?.policies, ['policy', 'policies'], problems) ?? []).forEach((v, i) => {
    const r = parseRule(v, i, problems, ctx);
    if (!r) return;
    const prev = seen.get(r.rule.name);
    if (prev !== undefined) {
      problems.add(
        ['policy', 'policies', i, 'name'],
        `"${r.rule.name}" is already the name of policy.policies[${prev}]; names must be unique`,
      );
      return;
    }
    seen.set(r.rule.name, i);
    rules.push(r);
  });
  return { defaultAction, rules };
}
