// Registry host names for matching. One registry can go by several names (Docker Hub: docker.io, index.docker.io,
// registry-1.docker.io), and Docker Hub puts single-name images under `library/`. Policies are written and matched on
// ONE canonical spelling, so `index.docker.io/library/busybox` and `docker.io/busybox` meet the same rule. The
// aliases come from the upstream config (config/types.ts UpstreamConfig), passed in by the caller.
import { looksLikeHost } from '../oci/reference.ts';

export interface HostEntry {
  readonly host: string;
  readonly aliases: readonly string[];
  readonly libraryPrefix: boolean;
}

export interface HostNames {
  /** The canonical spelling of a host (lowercased; aliases mapped to the upstream's `host`). */
  canonical(host: string): string;
  /** Whether single-segment repositories on this host live under `library/` (Docker Hub). */
  libraryPrefix(host: string): boolean;
  /** Sorted `[name, canonical, libraryPrefix]` rows: everything that affects matching, for the policy hash. */
  readonly table: readonly (readonly [string, string, boolean])[];
}

/** Docker Hub's names (the same list as config/types.ts DOCKER_HUB_NAMES), known even when no upstream says so. */
const HUB: HostEntry = { host: 'docker.io', aliases: ['index.docker.io', 'registry-1.docker.io'], libraryPrefix: true };

export function hostNames(upstreams: readonly HostEntry[] = []): HostNames {
  const canon = new Map<string, string>();
  const library = new Map<string, boolean>();
  for (const u of [HUB, ...upstreams]) {
    const host = u.host.toLowerCase();
    for (const name of [host, ...u.aliases.map((a) => a.toLowerCase())]) canon.set(name, host);
    library.set(host, u.libraryPrefix);
  }
  const canonical = (h: string): string => {
    const lower = h.toLowerCase();
    return canon.get(lower) ?? lower;
  };
  const table = [...canon.entries()]
    .map(([name, host]) => [name, host, library.get(host) ?? false] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return {
    canonical,
    libraryPrefix: (h) => library.get(canonical(h)) ?? false,
    table,
  };
}

export const DEFAULT_HOST_NAMES: HostNames = hostNames();

/** Canonical host, and `library/x` for a single-name repository on a library-prefix host (Docker's rule). */
export function canonicalName(
  hosts: HostNames,
  host: string,
  repository: string,
): { host: string; repository: string } {
  const h = hosts.canonical(host);
  const repo = hosts.libraryPrefix(h) && !repository.includes('/') ? `library/${repository}` : repository;
  return { host: h, repository: repo };
}

/** `<host>/<repository>` named by a signed docker-reference (`index.docker.io/library/x`, `ghcr.io/a/b:tag`,
 * `busybox`), tag and digest dropped. A name without a registry host is a Docker Hub name, as in docker's own
 * normalization. Undefined when it is not a reference at all. */
export function referenceName(hosts: HostNames, ref: string): string | undefined {
  let name = ref.trim();
  const at = name.indexOf('@');
  if (at >= 0) name = name.slice(0, at);
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > slash) name = name.slice(0, colon);
  if (name === '' || name.startsWith('/') || name.endsWith('/')) return undefined;
  const parts = name.split('/');
  const first = parts[0] ?? '';
  const hasHost = parts.length > 1 && looksLikeHost(first);
  const host = hasHost ? first : 'docker.io';
  const repository = (hasHost ? parts.slice(1) : parts).join('/');
  if (repository === '' || parts.some((p) => p === '')) return undefined;
  const c = canonicalName(hosts, host, repository);
  return `${c.host}/${c.repository}`;
}
