// The registry names an upstream answers to: its host and its aliases, compared case-insensitively. A name may
// belong to one upstream only, or which upstream (and whose credentials) serves an image would depend on file
// order. config/parse.ts reports a clash as a problem with its YAML line; upstream/registry.ts refuses one in an
// UpstreamConfig that did not come through the parser.

interface Named {
  readonly host: string;
  readonly aliases: readonly string[];
}

/** Host and aliases, lowercased. */
export function upstreamNames(u: Named): string[] {
  return [u.host, ...u.aliases].map((n) => n.toLowerCase());
}

export interface DuplicateName {
  readonly name: string;
  /** Index of the upstream that named it before. */
  readonly previous: number;
  /** Index of the upstream naming it again. */
  readonly index: number;
}

/** Every name that a second upstream claims again. A name repeated within one upstream is harmless and not listed.
 * `undefined` entries (upstreams that did not parse) are skipped, so indexes stay those of the YAML list. */
export function duplicateUpstreamNames(upstreams: readonly (Named | undefined)[]): DuplicateName[] {
  const last = new Map<string, number>();
  const out: DuplicateName[] = [];
  upstreams.forEach((u, index) => {
    if (u === undefined) return;
    for (const name of upstreamNames(u)) {
      const previous = last.get(name);
      if (previous !== undefined && previous !== index) out.push({ name, previous, index });
      last.set(name, index);
    }
  });
  return out;
}
