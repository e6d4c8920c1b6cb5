// Settings that load but cannot do what they say together, about the state kept across restarts: reported by
// `sigward check-config` and logged by `sigward serve` at start, never refused (the daemon still runs, fail-closed).
import type { Config } from '../config/types.ts';

/** `failStatic` on an upstream with `cache.stateSize: 0`: KeptState keeps no manifest at all then (not even in
 * memory), so fail-static never has anything to serve, before or after a restart. One line per upstream. */
export function stateWarnings(config: Config): string[] {
  if (config.cache.stateBytes > 0) return [];
  const out: string[] = [];
  config.upstreams.forEach((u, i) => {
    if (u.failStaticMs === undefined) return;
    out.push(
      `warning: upstreams[${i}] (${u.host}) has failStatic, but cache.stateSize is 0: no verified manifest is kept, ` +
        'so fail-static can never serve one (during an outage, or after a restart during it) and pulls fail closed. ' +
        'Set cache.stateSize to a size (default 256MiB: remove the 0), or remove failStatic from this upstream.',
    );
  });
  return out;
}
