// `sigward check-config FILE`: report every problem of a config at once (YAML path and line), exit non-zero.
import type { CompiledPolicy } from '../policy/types.ts';
import { loadConfig } from '../config/load.ts';
import { SigwardError } from '../errors.ts';
import type { Io } from './io.ts';
import { parseFlags } from './flags.ts';

export const CHECK_USAGE = `usage: sigward check-config FILE

Validates FILE and everything it points to (key files, CA bundles, password files and variables).
Prints every problem with its YAML path and line; exits 0 when the config is valid, 1 otherwise.`;

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
  for (const line of trustLines(p)) io.out(line);
  return 0;
}

/** One line per trust root and private CA: what it carries, and that it is used offline (pinned, no network). */
export function trustLines(p: CompiledPolicy): string[] {
  const roots = Object.values(p.roots).map(
    (r) =>
      `trust root ${r.name}: ${r.counts.cas} Fulcio CA(s), ${r.counts.ctlogs} CT log(s), ${r.counts.tlogs} Rekor log(s), ` +
      `${r.counts.tsas} timestamp authority(ies); pinned trusted_root.json, verified offline (sha256 ${r.fingerprint.slice(0, 12)})`,
  );
  const cas = Object.values(p.cas).map(
    (c) => `private CA ${c.name}: ${c.counts.cas} root(s); certificates checked at the current time, no logs`,
  );
  return [...roots, ...cas];
}
