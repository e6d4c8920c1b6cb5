// podman, skopeo, CRI-O (containers/image): containers-registries.conf(5), version 2. A reference is rewritten by the
// [[registry]] with the longest matching prefix: its [[registry.mirror]] entries are tried first, then its `location`
// (default: the prefix itself), and any failure of a mirror (a refusal included) moves on to the next one and then
// to the location. So sigward must be the location, with no mirror that is not sigward; `blocked = true` refuses
// every pull. A reference no [[registry]] matches is pulled from its own registry. Drop-in files
// (registries.conf.d/*.conf, in name order) replace entries with the same prefix and set the search list again.
import type { UpstreamConfig } from '../config/types.ts';
import { upstreamNames } from '../config/upstream-names.ts';
import { dropIns, exists, readToml } from './files.ts';
import { isTomlTable, type TomlTable, type TomlValue } from './toml.ts';
import {
  isHub,
  isSigward,
  reachableNames,
  upstreamOf,
  type Finding,
  type Fixes,
  type SigwardAddress,
} from './types.ts';

export interface ContainersPaths {
  /** The registries.conf in effect (the user's file replaces the system one). */
  readonly mainFile: string;
  /** Drop-in directories, read in this order. */
  readonly dropInDirs: readonly string[];
}

interface Mirror {
  readonly location: string;
}

interface Entry {
  readonly prefix: string;
  readonly location: string;
  readonly insecure: boolean;
  readonly blocked: boolean;
  readonly mirrors: readonly Mirror[];
  readonly file: string;
}

export interface ContainersConf {
  readonly files: readonly string[];
  readonly entries: readonly Entry[];
  readonly search: readonly string[];
  readonly aliases: Readonly<Record<string, string>>;
}

export interface ContainersReport {
  readonly found: boolean;
  /** The registries.conf a canary pull should use (the main file). */
  readonly mainFile: string;
  readonly findings: Finding[];
}

const str = (v: TomlValue | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

/** Read and merge the files as containers/image does; unreadable files become findings. */
function load(paths: ContainersPaths, add: (f: Omit<Finding, 'runtime'>) => void): ContainersConf {
  const files = [paths.mainFile, ...paths.dropInDirs.flatMap(dropIns)].filter(exists);
  const byPrefix = new Map<string, Entry>();
  let search: string[] = [];
  const aliases: Record<string, string> = {};
  for (const file of files) {
    const read = readToml(file);
    if (read.kind !== 'ok') {
      add({
        registry: undefined,
        status: 'bypass',
        file,
        message: `cannot be read (${read.kind === 'unreadable' ? read.reason : 'missing'}): which registries it routes around sigward is unknown`,
        fix: 'make it valid registries.conf (version 2); podman and skopeo also refuse to pull while it is broken',
      });
      continue;
    }
    const t = read.value;
    if (isTomlTable(t.registries)) {
      add({
        registry: undefined,
        status: 'bypass',
        file,
        message:
          'uses the version 1 format ([registries.search], [registries.insecure], [registries.block]), which cannot make sigward the location of a registry',
        fix: 'rewrite it in the version 2 format ([[registry]] tables with prefix and location)',
      });
    }
    const list = t['unqualified-search-registries'];
    if (Array.isArray(list))
      search = list.filter((x): x is string => typeof x === 'string').map((x) => x.toLowerCase());
    if (isTomlTable(t.aliases)) {
      for (const [k, v] of Object.entries(t.aliases)) if (typeof v === 'string') aliases[k] = v.toLowerCase();
    }
    const regs = Array.isArray(t.registry) ? t.registry.filter(isTomlTable) : [];
    for (const r of regs) {
      const entry = toEntry(r, file);
      if (entry !== undefined) byPrefix.set(entry.prefix, entry);
    }
  }
  return { files, entries: [...byPrefix.values()], search, aliases };
}

function toEntry(r: TomlTable, file: string): Entry | undefined {
  const location = (str(r.location) ?? '').toLowerCase();
  const prefix = (str(r.prefix) ?? location).toLowerCase();
  if (prefix === '') return undefined;
  const mirrors = (Array.isArray(r.mirror) ? r.mirror.filter(isTomlTable) : []).map((m) => ({
    location: (str(m.location) ?? '').toLowerCase(),
  }));
  return { prefix, location, insecure: r.insecure === true, blocked: r.blocked === true, mirrors, file };
}

/** Whether a [[registry]] prefix matches `ref`, as containers/image's FindRegistry matches (the longest prefix
 * wins): `*.domain` matches a subdomain before the first '/'; any other prefix matches itself followed by the end,
 * ':', '/' or '@' — so prefix "registry.internal" also matches "registry.internal:5000" (a known quirk of c/image). */
function prefixMatches(ref: string, prefix: string): boolean {
  const next = (i: number): boolean => i === ref.length || ':/@'.includes(ref[i] as string);
  if (prefix.startsWith('*.')) {
    const i = ref.indexOf(prefix.slice(1));
    return i >= 0 && !ref.slice(0, i).includes('/') && next(i + prefix.length - 1);
  }
  return ref.startsWith(prefix) && next(prefix.length);
}

/** Does a prefix decide where every reference under `name` (a registry host[:port]) goes? */
function coversHost(prefix: string, name: string): boolean {
  return !prefix.includes('/') && prefixMatches(name, prefix);
}

/** The [[registry]] entries that decide where references under `name` go: the one for the whole host (longest match)
 * and every more specific prefix under it. */
function entriesFor(conf: ContainersConf, name: string): { whole: Entry | undefined; specific: Entry[] } {
  const whole = conf.entries
    .filter((e) => coversHost(e.prefix, name))
    .sort((a, b) => b.prefix.length - a.prefix.length)[0];
  const specific = conf.entries.filter((e) => e.prefix.startsWith(`${name}/`));
  return { whole, specific };
}

interface Problem {
  readonly status: 'ok' | 'bypass' | 'warning';
  readonly message: string;
}

const SCHEMES = ['https', 'http'] as const;
const HUB_API = 'registry-1.docker.io';

/** Where a [[registry]] sends pulls, judged against sigward and the upstream the references name. */
function judge(e: Entry, name: string, u: UpstreamConfig | undefined, sw: SigwardAddress): Problem[] {
  const what = `[[registry]] prefix ${JSON.stringify(e.prefix)}`;
  if (e.blocked) return [{ status: 'ok', message: `${what} is blocked: every pull is refused` }];
  const location = e.location === '' || e.prefix.startsWith('*.') ? e.location || name : e.location;
  const out: Problem[] = [];
  for (const m of e.mirrors) {
    if (!isSigward(sw, m.location, SCHEMES)) {
      out.push({
        status: 'bypass',
        message: `${what} has a [[registry.mirror]] at ${m.location}, tried before the location and not sigward: pulls from it are unchecked`,
      });
    }
  }
  if (!isSigward(sw, location, SCHEMES)) {
    const swMirror = e.mirrors.some((m) => isSigward(sw, m.location, SCHEMES));
    out.push({
      status: 'bypass',
      message: swMirror
        ? `sigward is a [[registry.mirror]] of ${what}, whose location is ${location}: when sigward refuses, podman and skopeo pull from ${location}`
        : `${what} has location ${location}, not sigward: pulls go there unchecked`,
    });
    return out;
  }
  const pathName = location.split('/')[1] ?? '';
  if (pathName === '') {
    if (u?.default !== true) {
      out.push({
        status: 'warning',
        message: `${what} has sigward's root as its location: sigward sends /v2/<repo> to its default upstream, not ${name} (pulls fail or reach another registry)`,
      });
    }
  } else if (u !== undefined && !upstreamNames(u).includes(pathName)) {
    out.push({
      status: 'warning',
      message: `${what} has location ${location}: ${pathName} is not a name of ${u.host} in sigward's config (pulls get 404 or another registry)`,
    });
  }
  if (e.insecure && sw.https) {
    out.push({
      status: 'warning',
      message: `${what} is insecure = true: TLS to sigward is not verified, so anyone between this node and sigward can answer as sigward`,
    });
  }
  if (out.length === 0) {
    out.push({ status: 'ok', message: `${what}: sigward is the location (${location}), no mirror to fall back from` });
  }
  return out;
}

/** A registry name routed through sigward (or blocked) by this configuration. */
function routed(conf: ContainersConf, name: string, sw: SigwardAddress): boolean {
  const { whole, specific } = entriesFor(conf, name);
  return (
    whole !== undefined &&
    [whole, ...specific].every((e) => judge(e, name, undefined, sw).every((p) => p.status !== 'bypass'))
  );
}

export function checkContainers(
  paths: ContainersPaths,
  upstreams: readonly UpstreamConfig[],
  sw: SigwardAddress,
  fixes: Fixes,
): ContainersReport {
  const findings: Finding[] = [];
  const add = (f: Omit<Finding, 'runtime'>): void => void findings.push({ runtime: 'containers', ...f });
  const conf = load(paths, add);
  if (conf.files.length === 0) return { found: false, mainFile: paths.mainFile, findings };
  for (const u of upstreams) {
    for (const name of reachableNames(u)) {
      const fix = fixes.containers(name, paths.mainFile);
      const { whole, specific } = entriesFor(conf, name);
      if (whole === undefined) {
        add({
          registry: name,
          status: 'bypass',
          file: paths.mainFile,
          message: `no [[registry]] for prefix ${JSON.stringify(name)}: podman and skopeo pull ${name} directly, unchecked`,
          fix,
        });
      }
      for (const e of [...(whole ? [whole] : []), ...specific]) {
        for (const p of judge(e, name, u, sw)) {
          add({
            registry: name,
            status: p.status,
            file: e.file,
            message: p.message,
            ...(p.status === 'bypass' ? { fix } : {}),
          });
        }
      }
    }
  }
  // Docker Hub has a second name references can spell out, which containers/image does not normalise to docker.io:
  // registry-1.docker.io/library/app goes to Docker Hub unless a [[registry]] routes or blocks it.
  if (upstreams.some(isHub) && !routed(conf, HUB_API, sw)) {
    add({
      registry: HUB_API,
      status: 'warning',
      file: paths.mainFile,
      message: `${HUB_API} (Docker Hub by another name) is neither routed through sigward nor blocked: an image named ${HUB_API}/library/app is pulled from Docker Hub directly`,
      fix: `add to ${paths.mainFile}:\n[[registry]]\nprefix = "${HUB_API}"\nblocked = true`,
    });
  }
  for (const r of conf.search) {
    if (routed(conf, r, sw)) continue;
    const known = upstreamOf(upstreams, r) !== undefined;
    add({
      registry: r,
      status: 'bypass',
      file: conf.files.at(-1),
      message: `unqualified-search-registries lists ${r}, which is not routed through sigward${known ? '' : ' (nor configured in it)'}: a short name (podman pull app) is looked up there directly, also after sigward refused it on an earlier registry of the list`,
      fix: `list only registries whose [[registry]] location is sigward, e.g. unqualified-search-registries = ${JSON.stringify(conf.search.filter((s) => routed(conf, s, sw)))}`,
    });
  }
  // Short-name aliases to a configured upstream are covered above; the others reach registries sigward never sees.
  const unrouted = new Map<string, string[]>();
  for (const [short, target] of Object.entries(conf.aliases)) {
    const h = target.split('/')[0] ?? '';
    if (h === '' || upstreamOf(upstreams, h) !== undefined || routed(conf, h, sw)) continue;
    unrouted.set(h, [...(unrouted.get(h) ?? []), short]);
  }
  if (unrouted.size > 0) {
    add({
      registry: undefined,
      status: 'warning',
      file: undefined,
      message: `short-name aliases resolve to registries sigward is not configured for, pulled directly: ${[...unrouted].map(([h, names]) => `${h} (${names.slice(0, 2).join(', ')}${names.length > 2 ? ', …' : ''})`).join('; ')}`,
    });
  }
  return { found: true, mainFile: paths.mainFile, findings };
}
