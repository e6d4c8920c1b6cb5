// A policy's `identities:`: who may sign with a certificate, named as cosign's flags name it:
//   subject / subjectRegExp        --certificate-identity / --certificate-identity-regexp
//   issuer / issuerRegExp          --certificate-oidc-issuer / --certificate-oidc-issuer-regexp
//   github: { trigger, sha, name, repository, ref }   --certificate-github-workflow-*
//   ca: <trust.cas name>           a private-CA certificate instead of a Fulcio one (no issuer needed)
// Regular expressions are UNANCHORED, as in cosign (Go's regexp.MatchString): write ^…$ to match a whole value. They
// are Go RE2 syntax run by JavaScript; the constructs whose meaning differs (lookaround, backreferences, inline flags
// other than a leading (?i)) are refused rather than guessed at. (?P<name>…) is accepted as Go writes named groups.
import { isObj, readObj, readString, type Path, type Problems } from '../util/yaml-reader.ts';
import type { GithubClaim, StringMatch, TrustAuthority, TrustedIdentity } from '../verify/types.ts';
import type { Authorities } from './authorities.ts';
import { NAME_RE } from './trust.ts';

const IDENTITY_KEYS = ['name', 'subject', 'subjectRegExp', 'issuer', 'issuerRegExp', 'github', 'ca'] as const;
const GITHUB_KEYS: readonly GithubClaim[] = ['trigger', 'sha', 'name', 'repository', 'ref'];

/** Translate a Go RE2 pattern into an equivalent JavaScript RegExp, or say why it has no equivalent. */
export function compileRe2(pattern: string): RegExp | string {
  let source = pattern;
  let flags = 'u';
  if (source.startsWith('(?i)')) {
    source = source.slice(4);
    flags += 'i';
  }
  source = source.replace(/\(\?P</g, '(?<');
  if (/\(\?<?[=!]/.test(source)) return 'lookahead and lookbehind are not RE2 syntax (Go would refuse this pattern)';
  if (/\\[1-9]|\\k</.test(source)) return 'backreferences are not RE2 syntax (Go would refuse this pattern)';
  if (/\(\?[a-zA-Z-]+[):]/.test(source)) return 'inline flags are only accepted as a leading (?i)';
  try {
    return new RegExp(source, flags);
  } catch (e) {
    return `is not a valid regular expression: ${(e as Error).message}`;
  }
}

function readMatch(
  o: Record<string, unknown>,
  exactKey: string,
  reKey: string,
  path: Path,
  problems: Problems,
): StringMatch | undefined {
  const exact = readString(o[exactKey], [...path, exactKey], problems);
  const pattern = readString(o[reKey], [...path, reKey], problems);
  if (o[exactKey] !== undefined && o[reKey] !== undefined) {
    problems.add(path, `set \`${exactKey}\` or \`${reKey}\`, not both`);
    return undefined;
  }
  if (exact !== undefined) {
    if (exact === '') problems.add([...path, exactKey], 'must not be empty');
    return { exact };
  }
  if (pattern === undefined) return undefined;
  const re = compileRe2(pattern);
  if (typeof re === 'string') {
    problems.add([...path, reKey], `${JSON.stringify(pattern)}: ${re}`);
    return undefined;
  }
  return { regexp: pattern, re };
}

export interface IdentityContext {
  readonly authorities: Authorities;
  /** The rule's Fulcio root (its `root:`, or the only trust root), when there is one. */
  readonly root: TrustAuthority | undefined;
  /** Why there is no root, for the message when an identity needs one. */
  readonly noRoot: string;
}

/** Parse `identities:`; names default to `identity-<n>` (1-based), the name threshold/required count by. */
export function readIdentities(v: unknown, path: Path, problems: Problems, ctx: IdentityContext): TrustedIdentity[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    problems.add(
      path,
      'must be a list of identities, e.g. [{ issuer: "https://accounts.google.com", subject: "me@example.com" }]',
    );
    return [];
  }
  const out: TrustedIdentity[] = [];
  // Every name written, also of identities that fail for another reason: a duplicate is reported in the same run.
  const seen = new Set<string>();
  v.forEach((item, i) => {
    const at: Path = [...path, i];
    const o = readObj(item, at, problems, IDENTITY_KEYS);
    if (o === undefined) {
      if (item === undefined || item === null)
        problems.add(at, 'must be a mapping with `subject` (or `subjectRegExp`) and `issuer`');
      return;
    }
    const name = readString(o.name, [...at, 'name'], problems) ?? `identity-${i + 1}`;
    if (!NAME_RE.test(name)) {
      problems.add(
        [...at, 'name'],
        `"${name}" must be 1-64 characters of A-Z a-z 0-9 . _ - (starting with a letter or digit)`,
      );
    }
    const duplicate = seen.has(name);
    if (duplicate) problems.add([...at, 'name'], `"${name}" is already the name of another identity of this policy`);
    seen.add(name);
    const subject = readMatch(o, 'subject', 'subjectRegExp', at, problems);
    if (o.subject === undefined && o.subjectRegExp === undefined) {
      problems.add(at, 'needs `subject` (the certificate identity: an email or URI) or `subjectRegExp`');
    }
    const issuer = readMatch(o, 'issuer', 'issuerRegExp', at, problems);
    const caName = readString(o.ca, [...at, 'ca'], problems);
    let authority: TrustAuthority | undefined;
    if (caName !== undefined) {
      authority = ctx.authorities.cas.get(caName);
      if (authority === undefined && !ctx.authorities.declaredCas.has(caName)) {
        const known = [...ctx.authorities.declaredCas].join(', ') || 'none';
        problems.add([...at, 'ca'], `no CA named "${caName}" under trust.cas (declared: ${known})`);
      }
    } else {
      authority = ctx.root;
      if (authority === undefined && ctx.noRoot !== '') problems.add(at, ctx.noRoot);
      if (o.issuer === undefined && o.issuerRegExp === undefined) {
        problems.add(
          at,
          'needs `issuer` (the OIDC issuer, e.g. https://token.actions.githubusercontent.com) or `issuerRegExp`: ' +
            'a keyless identity without its issuer would accept anyone who can get that name from any provider',
        );
      }
    }
    const github: Partial<Record<GithubClaim, string>> = {};
    if (o.github !== undefined && o.github !== null) {
      const g = readObj(o.github, [...at, 'github'], problems, GITHUB_KEYS);
      for (const k of GITHUB_KEYS) {
        const s = readString(g?.[k], [...at, 'github', k], problems);
        if (s !== undefined) github[k] = s;
      }
      if (!isObj(o.github)) return;
    }
    if (duplicate || subject === undefined || authority === undefined) return;
    out.push({ name, authority, subject, ...(issuer !== undefined ? { issuer } : {}), github });
  });
  return out;
}
