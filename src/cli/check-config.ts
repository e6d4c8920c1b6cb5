// `sigward check-config FILE`: report every problem of a config at once (YAML path and line), exit non-zero.
import type { CompiledPolicy } from '../policy/types.ts';
import { loadConfig } from '../config/load.ts';
import { readTufCacheState, type TufRoot } from '../config/tuf.ts';
import { SigwardError } from '../errors.ts';
import type { Io } from './io.ts';
import { parseFlags } from './flags.ts';

export const CHECK_USAGE = `usage: sigward check-config FILE

Validates FILE and everything it points to (key files, CA bundles, password files and variables, trust roots).
Prints every problem with its YAML path and line; exits 0 when the config is valid, 1 otherwise.
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
  return 0;
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
