// What sigward doctor reports: one finding per (runtime, upstream name, file), ok / bypass / warning, and the fix for
// a bypass: the exact file `sigward client-config` prints for that runtime and name.
import type { UpstreamConfig } from '../config/types.ts';
import { DOCKER_HUB_NAMES } from '../config/types.ts';
import { upstreamNames } from '../config/upstream-names.ts';

export type Runtime = 'containerd' | 'containers' | 'docker';
/** ok: no way around sigward found; bypass: a pull can reach the registry without sigward's check; warning: not a
 * bypass by itself, but worth a look (a refusal that is not sigward's, TLS not verified, something doctor cannot see). */
export type Status = 'ok' | 'bypass' | 'warning';

export interface Finding {
  readonly runtime: Runtime;
  /** The registry name the finding is about (an upstream's host or alias), or undefined for every registry. */
  readonly registry: string | undefined;
  readonly status: Status;
  /** The file the finding is about (undefined: no file, e.g. one that should exist). */
  readonly file: string | undefined;
  readonly message: string;
  /** For a bypass: what to change, with the exact content to write. */
  readonly fix?: string;
}

/** The recommended content per runtime for a registry name (the cli supplies client-config's snippets). */
export interface Fixes {
  containerd(name: string, file: string): string;
  containers(name: string, file: string): string;
  docker(name: string): string;
}

/** Where runtimes must send pulls: sigward's host:port addresses (any of them counts as sigward). */
export interface SigwardAddress {
  /** scheme://host:port as given (the first one is the one fixes name). */
  readonly url: string;
  readonly https: boolean;
  /** host:port with the default port made explicit, lowercased. */
  readonly addresses: ReadonlySet<string>;
}

/** host:port of a `host[:port]` or URL, the default port made explicit (http 80, https 443); undefined if unparsable. */
export function hostPort(s: string, defaultScheme: 'http' | 'https' = 'https'): string | undefined {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `${defaultScheme}://${s}`;
  try {
    const u = new URL(withScheme);
    if (u.hostname === '') return undefined;
    const port = u.port || (u.protocol === 'http:' ? '80' : u.protocol === 'https:' ? '443' : '');
    return `${u.hostname.toLowerCase()}:${port}`;
  } catch {
    return undefined;
  }
}

/** Whether `where` (a URL, or host[:port][/path] read with each of `schemes` for its default port) is sigward. */
export function isSigward(
  sw: SigwardAddress,
  where: string,
  schemes: readonly ('http' | 'https')[] = ['https'],
): boolean {
  return schemes.some((scheme) => {
    const hp = hostPort(where, scheme);
    return hp !== undefined && sw.addresses.has(hp);
  });
}

export const isHub = (u: UpstreamConfig): boolean => upstreamNames(u).some((n) => DOCKER_HUB_NAMES.includes(n));

/** The names image references reach this upstream by, which a runtime must route through sigward: Docker Hub as
 * docker.io (references normalise to it); otherwise the names that are the registry's real address (its url's
 * host:port, or host when the port is the default) and every host or alias with a port (`registry.internal:5000`:
 * a network address a reference can name, which a runtime would reach directly), else the host. A port-less host
 * with the port in url and aliases (the recipe for a registry reached on a port) is a name sigward knows it by,
 * never resolved: not checked. */
export function reachableNames(u: UpstreamConfig): string[] {
  if (isHub(u)) return ['docker.io'];
  const url = new URL(u.url);
  const real = url.host.toLowerCase();
  const names = upstreamNames(u).filter((n) => n === real || n.includes(':'));
  return names.length > 0 ? [...new Set(names)] : [u.host];
}

/** The upstream a name belongs to. */
export function upstreamOf(upstreams: readonly UpstreamConfig[], name: string): UpstreamConfig | undefined {
  const n = name.toLowerCase();
  return upstreams.find((u) => upstreamNames(u).includes(n));
}
