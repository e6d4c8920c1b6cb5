// `match` patterns: globs over `<host>/<repository>` (never a tag or digest), with sigstore policy-controller's
// meaning (pkg/apis/glob/glob.go: `*` is `[^/]*`, `**` is `.*`, anchored at both ends) made segment-exact:
//   `*`  matches within ONE path segment (never a '/'); it may sit inside a segment: `ghcr.io/acme/app-*`;
//   `**` must be a whole segment and matches ONE OR MORE whole segments: `ghcr.io/acme/**`, `**/cache`, `**`.
// On valid names this is exactly policy-controller's `.*` (a name never has an empty segment), but it gives every
// pattern a clear shape, which is what the specificity order below needs.
//
// Specificity (the most specific matching pattern wins, like containers/image policy.json scopes): compare the
// segments left to right, registry first, as containers' scopes do; at the first position where they differ
//   literal segment  >  partial glob (more literal characters first)  >  `*`  >  `**`;
// when one pattern is a prefix of the other in these terms, the one with more segments wins. So
//   registry.io/team/app > registry.io/team/app-* > registry.io/team/* > registry.io/team/** > registry.io/** > **
// Two patterns that compare equal and can match the same name are a config error (see overlap.ts).
import type { HostNames } from './hosts.ts';

export type Segment =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'glob'; readonly text: string; readonly literalChars: number }
  | { readonly kind: 'star' }
  | { readonly kind: 'any' };

export interface Pattern {
  /** Canonical text: host canonicalized, Docker Hub `library/` added. */
  readonly text: string;
  readonly segments: readonly Segment[];
  readonly regex: RegExp;
}

export type PatternParse =
  { readonly ok: true; readonly pattern: Pattern } | { readonly ok: false; readonly problem: string };

const HOST_CHARS = /^[a-z0-9.\-:[\]*]+$/;
const REPO_CHARS = /^[a-z0-9._\-*]+$/;

function segmentOf(text: string): Segment {
  if (text === '**') return { kind: 'any' };
  if (text === '*') return { kind: 'star' };
  if (text.includes('*')) return { kind: 'glob', text, literalChars: text.replace(/\*/g, '').length };
  return { kind: 'literal', text };
}

function segmentText(s: Segment): string {
  return s.kind === 'any' ? '**' : s.kind === 'star' ? '*' : s.text;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}

function segmentRe(s: Segment): string {
  switch (s.kind) {
    case 'literal':
      return escapeRe(s.text);
    case 'glob':
      return s.text.split('*').map(escapeRe).join('[^/]*');
    case 'star':
      return '[^/]+';
    case 'any':
      return '[^/]+(?:/[^/]+)*';
  }
}

function hostLike(first: string): boolean {
  return (
    first.includes('.') || first.includes(':') || first.includes('*') || first === 'localhost' || first.startsWith('[')
  );
}

/** Parse and canonicalize one pattern; `problem` says what is wrong and what to write instead. */
export function parsePattern(source: string, hosts: HostNames): PatternParse {
  const bad = (problem: string): PatternParse => ({ ok: false, problem });
  const parts = source.split('/');
  // A ':' outside the host's `:port` (or a '@') is a tag or digest, which match patterns never contain.
  const hostTail = (parts[0] ?? '').replace(/^\[[^\]]*\]/, '');
  if (source.includes('@') || parts.slice(1).some((p) => p.includes(':')) || /:(?![0-9*]+$)/.test(hostTail)) {
    return bad(`"${source}": patterns match <host>/<repository> only; drop the tag or digest`);
  }
  if (parts.some((p) => p === ''))
    return bad(`"${source}" has an empty path segment (a leading, trailing or doubled '/')`);
  if (parts.length === 1 && source !== '**') {
    if (source === '*')
      return bad(
        '"*" alone is ambiguous: write docker.io/library/* for Docker Hub official images, or ** for every image',
      );
    if (hostLike(source)) return bad(`"${source}" names no repository: write ${source}/** for every repository on it`);
    return bad(`"${source}" must start with the registry host (e.g. docker.io/library/${source})`);
  }
  for (const p of parts) {
    if (p.includes('**') && p !== '**')
      return bad(`"${source}": '**' must be a whole path segment (e.g. ghcr.io/acme/**), not part of "${p}"`);
  }
  const first = (parts[0] ?? '').toLowerCase();
  if (first !== '**' && !hostLike(first)) {
    return bad(`"${source}" must start with the registry host (e.g. docker.io/${source} or ghcr.io/${source})`);
  }
  if (first !== '**' && !HOST_CHARS.test(first))
    return bad(`"${source}": "${parts[0]}" is not a registry host (host[:port])`);
  const repo = parts.slice(1);
  for (const p of repo) {
    if (p === '**') continue;
    if (/[A-Z]/.test(p)) return bad(`"${source}": repository names are lowercase, so "${p}" can never match`);
    if (!REPO_CHARS.test(p))
      return bad(`"${source}": "${p}" has characters a repository name cannot contain (allowed: a-z 0-9 . _ - and *)`);
  }
  const literalHost = !first.includes('*');
  const host = literalHost ? hosts.canonical(first) : first;
  // Docker's rule (docker.io/busybox means docker.io/library/busybox) applies to a single name or single-segment glob.
  if (literalHost && hosts.libraryPrefix(host) && repo.length === 1 && repo[0] !== '**') repo.unshift('library');
  const segments = [host, ...repo].map(segmentOf);
  const text = segments.map(segmentText).join('/');
  return { ok: true, pattern: { text, segments, regex: new RegExp(`^${segments.map(segmentRe).join('/')}$`) } };
}

export function matches(p: Pattern, name: string): boolean {
  return p.regex.test(name);
}

function rank(s: Segment): number {
  return s.kind === 'literal' ? 3 : s.kind === 'glob' ? 2 : s.kind === 'star' ? 1 : 0;
}

/** > 0 when `a` is more specific than `b`, < 0 when less, 0 when equally specific (order described above). */
export function compareSpecificity(a: Pattern, b: Pattern): number {
  const n = Math.min(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    const x = a.segments[i] as Segment;
    const y = b.segments[i] as Segment;
    const d = rank(x) - rank(y);
    if (d !== 0) return d;
    if (x.kind === 'glob' && y.kind === 'glob' && x.literalChars !== y.literalChars)
      return x.literalChars - y.literalChars;
  }
  return a.segments.length - b.segments.length;
}
