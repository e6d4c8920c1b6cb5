// `trust.roots` (Sigstore trust roots: a pinned trusted_root.json, or one kept current from a TUF repository) and
// `trust.cas` (private CAs: PEM roots and optional intermediates), each read ONCE here through the caller's file
// reader and built into trust material. Every problem is reported with the YAML path of the entry that caused it.
// A TUF root's trusted_root.json is fetched by the caller (tuf/), never here: this layer is handed its text, or
// compiles it as not fetched yet (check-config before the daemon's first fetch).
import { isSigwardError } from '../errors.ts';
import { isObj, readDuration, readObj, readString, type Path, type Problems } from '../util/yaml-reader.ts';
import { pendingRoot } from '../verify/authority.ts';
import type { TrustAuthority } from '../verify/types.ts';
import { NAME_RE } from './trust.ts';

/** The public-good TUF repository: the one URL whose initial root.json @sigstore/tuf embeds (so `rootFile` may be
 * left out for it, and only for it). */
export const PUBLIC_GOOD_TUF_URL = 'https://tuf-repo-cdn.sigstore.dev';
export const DEFAULT_TUF_REFRESH_MS = 24 * 3_600_000;
const TUF_REFRESH_RANGE = { min: 60_000, max: 7 * 24 * 3_600_000 };

/** `trust.roots.<name>.tuf` as written (paths not yet resolved; the caller resolves them). */
export interface TufSource {
  /** The repository (mirror) URL, http(s), without a trailing slash. */
  readonly url: string;
  /** The pinned initial TUF root.json; absent only for PUBLIC_GOOD_TUF_URL (the embedded one). */
  readonly rootFile?: string;
  /** Where TUF metadata and the fetched trusted_root.json are kept; absent: the caller's default. */
  readonly cacheDir?: string;
  readonly refreshMs: number;
}

/** What the caller found for a TUF root: problems with its files, and the trusted_root.json to compile now (fetched
 * at start, or the one the daemon fetched last); without one it is compiled as not fetched yet. */
export interface TufFindings {
  readonly problems: readonly { readonly field: 'url' | 'rootFile' | 'cacheDir'; readonly message: string }[];
  readonly text?: string;
}

export interface AuthorityDeps {
  readonly readFile: (path: string) => string | Error;
  readonly parseRoot: (name: string, json: string) => TrustAuthority;
  readonly parseCa: (name: string, rootsPem: string, intermediatesPem?: string) => TrustAuthority;
  /** A TUF root's file checks and text (config/load.ts wires the file system); absent: no checks, not fetched. */
  readonly tufRoot?: (name: string, source: TufSource) => TufFindings;
}

export interface Authorities {
  readonly roots: ReadonlyMap<string, TrustAuthority>;
  readonly cas: ReadonlyMap<string, TrustAuthority>;
  /** The roots kept current by TUF, by name (also those whose files had problems, already reported). */
  readonly tuf: ReadonlyMap<string, TufSource>;
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
  const tuf = new Map<string, TufSource>();
  for (const [name, v, path] of entries(
    t['roots'],
    ['trust', 'roots'],
    problems,
    'trust root name to { trustedRoot }',
  )) {
    declaredRoots.add(name);
    const o = readObj(v, path, problems, ['trustedRoot', 'tuf']);
    const file = readString(o?.trustedRoot, [...path, 'trustedRoot'], problems);
    if (o?.trustedRoot !== undefined && o.tuf !== undefined) {
      problems.add(
        path,
        'set `trustedRoot` (a pinned file, used offline) or `tuf` (kept current from a TUF repository), not both',
      );
      continue;
    }
    if (o?.tuf !== undefined) {
      const source = readTuf(o.tuf, [...path, 'tuf'], problems);
      if (source === undefined) continue;
      tuf.set(name, source);
      const found = deps.tufRoot?.(name, source) ?? { problems: [] };
      for (const p of found.problems) problems.add([...path, 'tuf', p.field], p.message);
      if (found.problems.length > 0) continue;
      const root =
        found.text === undefined
          ? pendingRoot(name)
          : build(() => deps.parseRoot(name, found.text as string), [...path, 'tuf'], problems);
      if (root !== undefined) roots.set(name, root);
      continue;
    }
    if (o?.trustedRoot === undefined) {
      problems.add(
        path,
        'needs `trustedRoot`: the path of a trusted_root.json (the public-good one ships in config/), or `tuf`: ' +
          'a TUF repository that keeps it current',
      );
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
  return { roots, cas, tuf, declaredRoots, declaredCas };
}

/** `tuf: { url, rootFile, cacheDir, refresh }`: its shape only (the caller checks the files). */
function readTuf(v: unknown, path: Path, problems: Problems): TufSource | undefined {
  if (!isObj(v)) {
    problems.add(path, 'must be a mapping: { url, rootFile, cacheDir, refresh }');
    return undefined;
  }
  const before = problems.list.length;
  const o = readObj(v, path, problems, ['url', 'rootFile', 'cacheDir', 'refresh']) ?? {};
  const raw = readString(o.url, [...path, 'url'], problems);
  const rootFile = readString(o.rootFile, [...path, 'rootFile'], problems);
  const cacheDir = readString(o.cacheDir, [...path, 'cacheDir'], problems);
  const refreshMs =
    readDuration(o.refresh, [...path, 'refresh'], problems, TUF_REFRESH_RANGE) ?? DEFAULT_TUF_REFRESH_MS;
  const url = raw === undefined ? undefined : tufUrl(raw, [...path, 'url'], problems);
  if (o.url === undefined) problems.add(path, `needs \`url\`: the TUF repository, e.g. ${PUBLIC_GOOD_TUF_URL}`);
  if (url !== undefined && o.rootFile === undefined && url !== PUBLIC_GOOD_TUF_URL) {
    problems.add(
      path,
      "needs `rootFile`: the repository's initial TUF root.json, pinned (sigward does not trust a TUF repository " +
        `on first use; only ${PUBLIC_GOOD_TUF_URL} has one built in, from @sigstore/tuf)`,
    );
  }
  if (problems.list.length !== before || url === undefined) return undefined;
  return {
    url,
    ...(rootFile !== undefined ? { rootFile } : {}),
    ...(cacheDir !== undefined ? { cacheDir } : {}),
    refreshMs,
  };
}

/** An http(s) URL without credentials, query or fragment; a trailing slash is dropped (TUF joins paths to it). */
function tufUrl(raw: string, path: Path, problems: Problems): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    problems.add(path, `${JSON.stringify(raw)} is not a URL; expected e.g. ${PUBLIC_GOOD_TUF_URL}`);
    return undefined;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    problems.add(path, `must be an http or https URL, got ${u.protocol}`);
    return undefined;
  }
  if (u.username !== '' || u.password !== '' || u.search !== '' || u.hash !== '') {
    problems.add(path, 'must not carry credentials, a query or a fragment');
    return undefined;
  }
  return `${u.origin}${u.pathname}`.replace(/\/+$/, '');
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
