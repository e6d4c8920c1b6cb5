// `trust.roots` (Sigstore trust roots: a pinned trusted_root.json) and `trust.cas` (private CAs: PEM roots and
// optional intermediates), each read ONCE here through the caller's file reader and built into trust material.
// Every problem is reported with the YAML path of the entry that caused it.
import { isSigwardError } from '../errors.ts';
import { isObj, readObj, readString, type Path, type Problems } from '../util/yaml-reader.ts';
import type { TrustAuthority } from '../verify/types.ts';
import { NAME_RE } from './trust.ts';

export interface AuthorityDeps {
  readonly readFile: (path: string) => string | Error;
  readonly parseRoot: (name: string, json: string) => TrustAuthority;
  readonly parseCa: (name: string, rootsPem: string, intermediatesPem?: string) => TrustAuthority;
}

export interface Authorities {
  readonly roots: ReadonlyMap<string, TrustAuthority>;
  readonly cas: ReadonlyMap<string, TrustAuthority>;
  /** Every name written under trust.roots / trust.cas, including those that failed to load (already reported). */
  readonly declaredRoots: ReadonlySet<string>;
  readonly declaredCas: ReadonlySet<string>;
}

export function compileAuthorities(trust: unknown, problems: Problems, deps: AuthorityDeps): Authorities {
  const t = isObj(trust) ? trust : {};
  const roots = new Map<string, TrustAuthority>();
  const cas = new Map<string, TrustAuthority>();
  const declaredRoots = new Set<string>();
  const declaredCas = new Set<string>();
  for (const [name, v, path] of entries(
    t['roots'],
    ['trust', 'roots'],
    problems,
    'trust root name to { trustedRoot }',
  )) {
    declaredRoots.add(name);
    const o = readObj(v, path, problems, ['trustedRoot']);
    const file = readString(o?.trustedRoot, [...path, 'trustedRoot'], problems);
    if (o?.trustedRoot === undefined) {
      problems.add(path, 'needs `trustedRoot`: the path of a trusted_root.json (the public-good one ships in config/)');
      continue;
    }
    const text = file === undefined ? undefined : read(deps, file, [...path, 'trustedRoot'], problems);
    const root =
      text === undefined ? undefined : build(() => deps.parseRoot(name, text), [...path, 'trustedRoot'], problems);
    if (root !== undefined) roots.set(name, root);
  }
  for (const [name, v, path] of entries(t['cas'], ['trust', 'cas'], problems, 'CA name to { roots, intermediates }')) {
    declaredCas.add(name);
    if (declaredRoots.has(name))
      problems.add(path, `"${name}" is already the name of a trust root; give each a distinct name`);
    const o = readObj(v, path, problems, ['roots', 'intermediates']);
    const rootsFile = readString(o?.roots, [...path, 'roots'], problems);
    const intFile = readString(o?.intermediates, [...path, 'intermediates'], problems);
    if (o?.roots === undefined) {
      problems.add(path, 'needs `roots`: the path of a PEM file with the CA root certificate(s)');
      continue;
    }
    const rootsPem = rootsFile === undefined ? undefined : read(deps, rootsFile, [...path, 'roots'], problems);
    const intPem = intFile === undefined ? undefined : read(deps, intFile, [...path, 'intermediates'], problems);
    if (rootsPem === undefined || (o.intermediates !== undefined && intPem === undefined)) continue;
    const ca = build(() => deps.parseCa(name, rootsPem, intPem), path, problems);
    if (ca !== undefined) cas.set(name, ca);
  }
  return { roots, cas, declaredRoots, declaredCas };
}

function entries(v: unknown, path: Path, problems: Problems, what: string): [string, unknown, Path][] {
  if (v === undefined || v === null) return [];
  if (!isObj(v)) {
    problems.add(path, `must be a mapping of ${what}`);
    return [];
  }
  return Object.entries(v).map(([name, value]) => {
    const at: Path = [...path, name];
    if (!NAME_RE.test(name)) {
      problems.add(at, `name "${name}" must be 1-64 characters of A-Z a-z 0-9 . _ - (starting with a letter or digit)`);
    }
    return [name, value, at];
  });
}

function read(deps: AuthorityDeps, file: string, path: Path, problems: Problems): string | undefined {
  const text = deps.readFile(file);
  if (text instanceof Error) {
    problems.add(path, `cannot read the file: ${text.message}`);
    return undefined;
  }
  return text;
}

function build(make: () => TrustAuthority, path: Path, problems: Problems): TrustAuthority | undefined {
  try {
    return make();
  } catch (e) {
    problems.add(path, isSigwardError(e) ? e.message : String(e));
    return undefined;
  }
}
