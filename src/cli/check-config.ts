// `sigward check-config FILE`: report every problem of a config at once (YAML path and line), exit non-zero.
import type { CompiledPolicy } from '../policy/types.ts';
import { loadConfig } from '../config/load.ts';
import { readTufCacheState, type TufRoot } from '../config/tuf.ts';
import type { UpstreamConfig } from '../config/types.ts';
import { upstreamNames } from '../config/upstream-names.ts';
import { SigwardError } from '../errors.ts';
import type { Io } from './io.ts';
import { parseFlags } from './flags.ts';
import { stateWarnings } from '../state/warnings.ts';

export const CHECK_USAGE = `usage: sigward check-config FILE

Validates FILE and everything it points to (key files, CA bundles, password files and variables, trust roots).
Prints every problem with its YAML path and line; exits 0 when the config is valid, 1 otherwise. A valid config
can still get warnings (exit 0): an upstream named with a port and no port-less name gets the YAML to use instead;
failStatic with cache.stateSize 0 (nothing is kept, so fail-static never serves) says what to set.
Contacts no network: a TUF-kept trust root is shown as its cache holds it.`;

export async function checkConfigCommand(argv: readonly string[], io: Io): Promise<number> {
  const flags = parseFlags(argv, { help: 'boolean' }, CHECK_USAGE);
  if (flags.help) {
    io.out(CHECK_USAGE);
    return 0;
  }
  const file = flags._[0];
  if (file === undefined || flags._.length > 1) throw new SigwardError('CONFIG_INVALID', CHECK_USAGE);
  const loaded = loadConfig(file, io.env);
  const c = loaded.config;
  const p = loaded.policy;
  io.out(
    `${file}: OK — listen ${c.listen.host}:${c.listen.port}, ${c.upstreams.length} upstream(s): ${c.upstreams.map((u) => `${u.host}${u.default ? ' (default)' : ''}`).join(', ')}`,
  );
  io.out(
    `policy ${p.hash.slice(0, 12)}: ${Object.keys(p.keys).length} trusted key(s), ${p.rules.length} polic${p.rules.length === 1 ? 'y' : 'ies'}` +
      `${p.rules.length ? ` (${p.rules.map((r) => `${r.name}: ${r.kind}${r.mode === 'warn' ? ', warn' : ''}`).join('; ')})` : ''}, default ${p.defaultAction}`,
  );
  for (const line of trustLines(p, loaded.tufRoots)) io.out(line);
  for (const line of portWarnings(c.upstreams, `${c.listen.host}:${c.listen.port}`)) io.out(line);
  for (const line of stateWarnings(c)) io.out(line);
  return 0;
}

/** The upstream YAML that makes a registry reached on a port pullable through the path prefix: a port-less `host`
 * (the name without its port; a made-up one for an IP address, never resolved), the port in `url` and `aliases`. */
export function portlessRecipe(u: { host: string; url: string; aliases: readonly string[] }): {
  host: string;
  lines: string[];
} {
  const bare = u.host.slice(0, u.host.lastIndexOf(':'));
  const isIp = /^[0-9.]+$|^\[/.test(bare);
  const host = isIp ? `${bare.replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '')}.registry` : bare;
  return {
    host,
    lines: [
      `- host: ${host}${isIp ? '   # any name without a port; it is never resolved' : ''}`,
      `  url: ${u.url}`,
      `  aliases: [${[...new Set([u.host, ...u.aliases])].join(', ')}]`,
    ],
  };
}

/** An upstream named only with a port (`host: registry.internal:5000`, no port-less alias) cannot be a path prefix:
 * skopeo, podman and docker refuse `127.0.0.1:5050/registry.internal:5000/app` (a ':' is not allowed in a repository
 * path). The warning carries the recipe with this upstream's values. */
export function portWarnings(upstreams: readonly UpstreamConfig[], listen: string): string[] {
  const out: string[] = [];
  upstreams.forEach((u, i) => {
    if (!u.host.includes(':') || upstreamNames(u).some((n) => !n.includes(':'))) return;
    const recipe = portlessRecipe(u);
    out.push(
      `warning: upstreams[${i}].host ${u.host} has a port and no port-less name: podman, skopeo and docker cannot pull it ` +
        `through sigward (they refuse ${listen}/${u.host}/REPO: a ':' is not allowed in a repository path); containerd can. ` +
        'Name it without the port and keep the port in url and aliases:',
      ...recipe.lines.map((l) => `  ${l}`),
      `  Policies then match ${recipe.host}/… (the host). Image references keep naming ${u.host}; the node's side is`,
      `  what \`sigward client-config containerd|podman --upstream ${u.host} --config FILE\` prints.`,
    );
  });
  return out;
}

/** One line per trust root and private CA: what it carries, and whether it is pinned (offline, no network) or kept
 * current by TUF (online: the repository, the cache directory, the last fetch the cache holds). */
export function trustLines(p: CompiledPolicy, tufRoots: readonly TufRoot[] = [], now = Date.now()): string[] {
  const roots = Object.values(p.roots).map((r) => {
    const carries =
      `${r.counts.cas} Fulcio CA(s), ${r.counts.ctlogs} CT log(s), ${r.counts.tlogs} Rekor log(s), ` +
      `${r.counts.tsas} timestamp authority(ies)`;
    const tuf = tufRoots.find((t) => t.name === r.name);
    if (tuf === undefined) {
      return `trust root ${r.name}: ${carries}; pinned trusted_root.json, verified offline (sha256 ${r.fingerprint.slice(0, 12)})`;
    }
    const head =
      `trust root ${r.name}: TUF-refreshed online from ${tuf.url} every ${formatMs(tuf.refreshMs)} ` +
      `(initial root.json ${tuf.rootFile ?? 'embedded in @sigstore/tuf'}, cache ${tuf.cacheDir})`;
    const state = readTufCacheState(tuf);
    if (state === undefined) return `${head}; not fetched yet: the daemon fetches it at start, or refuses to start`;
    const last = `last fetched ${state.fetchedAt.toISOString()} (${formatMs(now - state.fetchedAt.getTime())} ago)`;
    return state.text === undefined || r.fingerprint === 'not-fetched'
      ? `${head}; ${last}, but the cached copy is gone or changed: the daemon fetches it again at start`
      : `${head}; ${last}: ${carries} (sha256 ${r.fingerprint.slice(0, 12)})`;
  });
  const cas = Object.values(p.cas).map(
    (c) => `private CA ${c.name}: ${c.counts.cas} root(s); certificates checked at the current time, no logs`,
  );
  return [...roots, ...cas];
}

/** `90s` -> `1m 30s`, `24h`, `2d 3h`: whole units, the two largest. */
function formatMs(ms: number): string {
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  const parts: string[] = [];
  let rest = Math.max(0, Math.round(ms));
  for (const [u, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0 || (parts.length > 0 && parts.length < 2)) parts.push(`${n}${u}`);
    rest -= n * size;
    if (parts.length === 2) break;
  }
  return parts.filter((x) => !/^0/.test(x)).join(' ') || `${Math.round(ms)}ms`;
}
