// Trust roots kept current by TUF (`trust.roots.<name>.tuf`), as far as the config loader and check-config see them:
// paths resolved against the config file, the pinned initial root.json checked to be one, the cache directory checked
// to be usable, and what the daemon's last fetch left in that directory. Nothing here contacts the network: the
// fetching is tuf/'s (with @sigstore/tuf), at start and on every refresh.
//
// Cache layout: `<cacheDir>/<host+path of the URL>/` is @sigstore/tuf's working state (root.json, timestamp.json,
// snapshot.json, targets.json, targets/trusted_root.json). A fetch that fails half-way can leave it inconsistent
// (new metadata persisted, its target not), so after every successful fetch that state is copied to
// `<cacheDir>/last-good/<host+path>/`, which is what the daemon starts from when the repository is down; and
// `<cacheDir>/sigward-tuf.json` records that fetch ({ url, fetchedAt, sha256 of the trusted_root.json }).
import { createHash } from 'node:crypto';
import {
  accessSync,
  copyFileSync,
  constants,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { Metadata, MetadataKind } from '@tufjs/models';
import type { TufFindings, TufSource } from '../policy/authorities.ts';
import { parseTrustedRoot } from '../verify/authority.ts';

/** One TUF-kept trust root, its paths resolved. */
export interface TufRoot {
  /** Its name under trust.roots. */
  readonly name: string;
  readonly url: string;
  /** Absolute path of the pinned initial root.json; undefined: the one @sigstore/tuf embeds for the public-good URL. */
  readonly rootFile: string | undefined;
  /** Absolute. */
  readonly cacheDir: string;
  readonly refreshMs: number;
}

/** What sigward's last successful fetch of a root left in its cache directory. */
export interface TufCacheState {
  readonly fetchedAt: Date;
  readonly sha256: string;
  /** The fetched trusted_root.json, when the copy in the cache still has that sha256. */
  readonly text: string | undefined;
}

const STATE_FILE = 'sigward-tuf.json';
const TARGET = 'trusted_root.json';
const METADATA = ['root.json', 'timestamp.json', 'snapshot.json', 'targets.json'];

export function resolveTufRoot(name: string, source: TufSource, base: string, cacheBase: string): TufRoot {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  return {
    name,
    url: source.url,
    rootFile: source.rootFile === undefined ? undefined : abs(source.rootFile),
    cacheDir: source.cacheDir === undefined ? join(cacheBase, 'tuf', name) : abs(source.cacheDir),
    refreshMs: source.refreshMs,
  };
}

/** The directory @sigstore/tuf keeps this repository's metadata in under `cachePath` (its TUFClient names it so). */
export function repositoryCacheDir(root: TufRoot, cachePath = root.cacheDir): string {
  const u = new URL(root.url);
  return join(cachePath, encodeURIComponent(u.host + u.pathname.replace(/\/$/, '')));
}

/** The `cachePath` of the state the last successful fetch left (see the layout above). */
export function lastGoodCachePath(root: TufRoot): string {
  return join(root.cacheDir, 'last-good');
}

/** The checks config load makes on a TUF root's files, and the trusted_root.json to compile it with for now. */
export function tufFindings(root: TufRoot, readText: (path: string) => string | Error): TufFindings {
  const problems: { field: 'rootFile' | 'cacheDir'; message: string }[] = [];
  if (root.rootFile !== undefined) {
    const text = readText(root.rootFile);
    const problem = text instanceof Error ? `cannot read the file: ${text.message}` : tufRootProblem(text);
    if (problem !== undefined) problems.push({ field: 'rootFile', message: problem });
  }
  const dirProblem = writableDirProblem(root.cacheDir);
  if (dirProblem !== undefined) problems.push({ field: 'cacheDir', message: dirProblem });
  const text = readTufCacheState(root)?.text;
  return { problems, ...(text !== undefined && parses(root.name, text) ? { text } : {}) };
}

/** Why a text is not a TUF root.json (signed by a threshold of its own root keys), or undefined when it is one. An
 * expired initial root is fine: TUF updates from it. */
export function tufRootProblem(text: string): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return `is not JSON (${(e as Error).message.slice(0, 120)}); expected a TUF root.json`;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return 'is not a JSON object; expected a TUF root.json';
  const doc = json as Record<string, unknown>;
  if (typeof doc['mediaType'] === 'string' && doc['mediaType'].includes('sigstore.trustedroot')) {
    return 'is a Sigstore trusted_root.json, not a TUF root.json: pin it with `trustedRoot:` instead, or give the TUF repository’s root.json here';
  }
  const signed = doc['signed'];
  const type = typeof signed === 'object' && signed !== null ? (signed as Record<string, unknown>)['_type'] : undefined;
  if (type !== 'root') return `is not a TUF root.json (signed._type is ${JSON.stringify(type)}, expected "root")`;
  let md: Metadata<never>;
  try {
    md = Metadata.fromJSON(MetadataKind.Root, doc as never) as Metadata<never>;
  } catch (e) {
    return `is not a valid TUF root.json: ${(e as Error).message}`;
  }
  try {
    md.verifyDelegate(MetadataKind.Root, md);
  } catch (e) {
    return `is not signed by a threshold of its own root keys: ${(e as Error).message}`;
  }
  return undefined;
}

/** Why `dir` cannot be used as a cache directory (not a directory, not writable, cannot be created), or undefined. */
export function writableDirProblem(
  dir: string,
  access: (path: string, mode: number) => void = accessSync,
): string | undefined {
  let d = dir;
  for (;;) {
    let isDir: boolean;
    try {
      isDir = statSync(d).isDirectory();
    } catch (e) {
      const parent = dirname(d);
      const code = (e as NodeJS.ErrnoException).code;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && parent !== d) {
        d = parent;
        continue;
      }
      return `cannot use ${dir}: ${(e as Error).message}`;
    }
    if (!isDir) return d === dir ? `${dir} is not a directory` : `${d} is not a directory, so ${dir} cannot be created`;
    try {
      access(d, constants.W_OK | constants.X_OK);
    } catch {
      return d === dir
        ? `${dir} is not writable by this user`
        : `${dir} does not exist and ${d} is not writable by this user, so it cannot be created`;
    }
    return undefined;
  }
}

/** What the last successful fetch left (undefined: never fetched into this directory from this URL). */
export function readTufCacheState(root: TufRoot): TufCacheState | undefined {
  let state: { url?: unknown; fetchedAt?: unknown; sha256?: unknown };
  try {
    state = JSON.parse(readFileSync(join(root.cacheDir, STATE_FILE), 'utf8')) as typeof state;
  } catch {
    return undefined;
  }
  if (state.url !== root.url || typeof state.fetchedAt !== 'string' || typeof state.sha256 !== 'string')
    return undefined;
  const fetchedAt = new Date(state.fetchedAt);
  if (Number.isNaN(fetchedAt.getTime())) return undefined;
  let text: string | undefined;
  try {
    text = readFileSync(join(repositoryCacheDir(root, lastGoodCachePath(root)), 'targets', TARGET), 'utf8');
  } catch {
    text = undefined;
  }
  return {
    fetchedAt,
    sha256: state.sha256,
    text: text !== undefined && sha256(text) === state.sha256 ? text : undefined,
  };
}

/** Record a successful fetch: the TUF state it verified copied to last-good, and the record of it (each file
 * written whole, then renamed into place). */
export function recordTufFetch(root: TufRoot, text: string, at: Date): void {
  const from = repositoryCacheDir(root);
  const to = repositoryCacheDir(root, lastGoodCachePath(root));
  mkdirSync(join(to, 'targets'), { recursive: true });
  for (const f of [...METADATA, join('targets', TARGET)])
    replaceFile(join(to, f), (tmp) => copyFileSync(join(from, f), tmp));
  const state = `${JSON.stringify({ url: root.url, fetchedAt: at.toISOString(), sha256: sha256(text) })}\n`;
  replaceFile(join(root.cacheDir, STATE_FILE), (tmp) => writeFileSync(tmp, state));
}

function replaceFile(file: string, write: (tmp: string) => void): void {
  const tmp = `${file}.${process.pid}.tmp`;
  write(tmp);
  renameSync(tmp, file);
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function parses(name: string, text: string): boolean {
  try {
    parseTrustedRoot(name, text);
    return true;
  } catch {
    return false;
  }
}
