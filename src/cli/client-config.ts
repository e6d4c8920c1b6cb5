// `sigward client-config containerd|podman|docker --upstream HOST [--config FILE] [--sigward URL]`: the exact file a
// node needs to pull HOST's images through sigward, in the one form each runtime cannot route around (README,
// "Pointing clients at sigward"): containerd with sigward as the hosts.toml `server` (no fallback host), podman,
// skopeo and CRI-O with sigward as the registries.conf `location` (a mirror's refusal falls back to the registry),
// docker's `registry-mirrors` for Docker Hub only, with the warning that docker falls back to Docker Hub.
// stdout is the file alone (redirect it into place); stderr says where it goes and what to watch for.
import { loadConfig } from '../config/load.ts';
import { DOCKER_HUB_NAMES, type UpstreamConfig } from '../config/types.ts';
import { upstreamNames } from '../config/upstream-names.ts';
import { isHost } from '../oci/reference.ts';
import type { Io } from './io.ts';
import { EXIT_BAD_INPUT, EXIT_OK, exitOnBadInput } from './exit-codes.ts';
import { parseFlags, usage } from './flags.ts';
import { portlessRecipe } from './check-config.ts';

export const CLIENT_CONFIG_USAGE = `usage: sigward client-config containerd|podman|docker --upstream HOST [--config FILE] [--sigward URL]

Prints the configuration a node needs to pull HOST's images through sigward, and only through sigward:
  containerd  /etc/containerd/certs.d/HOST/hosts.toml: sigward is the server, no fallback to HOST
  podman      registries.conf [[registry]]: sigward/HOST as the location of prefix HOST (podman, skopeo, CRI-O)
  docker      daemon.json registry-mirrors (Docker Hub only; docker falls back to Docker Hub when sigward refuses)
stdout is the file's content; where it goes and any warning are on stderr.

  --upstream HOST   the registry host of the image references (docker.io, ghcr.io, registry.internal:5000)
  --config FILE     sigward's configuration: HOST must be one of its upstreams (or aliases), and the default
                    --sigward is its listen port on 127.0.0.1
  --sigward URL     where nodes reach sigward (default http://127.0.0.1:5050); http:// makes the client insecure

Exit codes: 0 printed; 2 bad input (unknown runtime, HOST not a configured upstream, bad URL, or podman for a
HOST with a port and no port-less alias: the recipe is printed instead).`;

const RUNTIMES = ['containerd', 'podman', 'docker'] as const;
export type Runtime = (typeof RUNTIMES)[number];

export interface Target {
  /** The registry host of the image references, lowercased. */
  readonly host: string;
  /** A port-less name sigward knows this registry by, for path-prefix locations (the host itself when it has no port). */
  readonly pathName: string | undefined;
  readonly hub: boolean;
  /** With --config: whether bare /v2/<repo> requests (docker registry-mirrors) reach this upstream. */
  readonly isDefault: boolean | undefined;
  /** With --config: the upstream's url. */
  readonly url?: string;
}

export interface Sigward {
  /** scheme://host:port */
  readonly url: string;
  /** host:port, as in an image reference. */
  readonly address: string;
  readonly insecure: boolean;
}

export interface Snippet {
  /** The file's content (stdout). */
  readonly text: string;
  /** Where it goes, and warnings (stderr). */
  readonly notes: readonly string[];
  /** docker: what enforces (images addressed through sigward, no direct access), without the registry-mirrors file,
   * which cannot enforce (sigward doctor's fix for a mirror bypass must not be the mirror again). */
  readonly enforce?: readonly string[];
}

export async function clientConfigCommand(argv: readonly string[], io: Io): Promise<number> {
  return exitOnBadInput('client-config', io, async () => {
    const flags = parseFlags(
      argv,
      { upstream: 'string', config: 'string', sigward: 'string', help: 'boolean' },
      'unknown option',
    );
    if (flags.help) {
      io.out(CLIENT_CONFIG_USAGE);
      return EXIT_OK;
    }
    const runtime = flags._[0];
    if (flags._.length !== 1 || !RUNTIMES.includes(runtime as Runtime)) {
      throw usage(`expected one runtime, containerd, podman or docker; got ${JSON.stringify(flags._.join(' '))}`);
    }
    if (typeof flags.upstream !== 'string') throw usage('--upstream HOST is required');
    const configFile = typeof flags.config === 'string' ? flags.config : undefined;
    const config = configFile === undefined ? undefined : loadConfig(configFile, io.env).config;
    const target = resolveTarget(flags.upstream, config?.upstreams);
    const sigward = parseSigward(
      typeof flags.sigward === 'string' ? flags.sigward : `http://127.0.0.1:${config?.listen.port ?? 5050}`,
    );
    const snippet = clientSnippet(runtime as Runtime, target, sigward);
    if (snippet.text !== '') io.out(snippet.text);
    for (const note of snippet.notes) io.err(note);
    // podman with a host that has a port and no port-less alias: nothing usable to print, the recipe says why.
    return runtime === 'podman' && snippet.text === '' ? EXIT_BAD_INPUT : EXIT_OK;
  });
}

export function resolveTarget(given: string, upstreams: readonly UpstreamConfig[] | undefined): Target {
  const host = given.toLowerCase();
  if (!isHost(host)) throw usage(`--upstream ${JSON.stringify(given)} is not a registry host (e.g. ghcr.io)`);
  const portless = (n: string): boolean => !n.includes(':');
  if (upstreams === undefined) {
    return {
      host,
      pathName: portless(host) ? host : undefined,
      hub: DOCKER_HUB_NAMES.includes(host),
      isDefault: undefined,
    };
  }
  const u = upstreams.find((c) => upstreamNames(c).includes(host));
  if (u === undefined) {
    throw usage(
      `--upstream ${host} is not a configured upstream (configured: ${upstreams.map((c) => c.host).join(', ') || 'none'})`,
    );
  }
  const hub = upstreamNames(u).some((n) => DOCKER_HUB_NAMES.includes(n));
  // References name the registry as `host`; a path-prefix location may use any port-less name of the same upstream.
  const pathName = portless(host) ? host : upstreamNames(u).find(portless);
  return {
    host: hub ? 'docker.io' : host,
    pathName: hub ? 'docker.io' : pathName,
    hub,
    isDefault: u.default,
    url: u.url,
  };
}

export function parseSigward(given: string): Sigward {
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw usage(`--sigward ${JSON.stringify(given)} is not a URL (e.g. http://127.0.0.1:5050)`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search || url.username) {
    throw usage(`--sigward ${JSON.stringify(given)}: expected http(s)://HOST[:PORT], no path`);
  }
  return { url: `${url.protocol}//${url.host}`, address: url.host, insecure: url.protocol === 'http:' };
}

/** TOML basic string. */
const q = (s: string): string => JSON.stringify(s);

/** A name with a port cannot be a path component of a reference through sigward: the recipe with an alias. */
function portCaveat(t: Target, sw: Sigward): string[] {
  const recipe = portlessRecipe({ host: t.host, url: t.url ?? `https://${t.host}`, aliases: [] });
  return [
    `# ${t.host} has a port: skopeo, podman and docker refuse a reference like ${sw.address}/${t.host}/REPO (a ':' is`,
    `# not allowed in a repository path), so the path prefix must be a port-less name of the same registry.`,
    `# In sigward.yaml, name the upstream without the port and keep the port in url and aliases (what`,
    `# sigward check-config suggests), e.g.`,
    ...recipe.lines.map((l) => `#   ${l}`),
    `# and run this again with --config, which then uses it.`,
  ];
}

export function clientSnippet(runtime: Runtime, t: Target, sw: Sigward): Snippet {
  switch (runtime) {
    case 'containerd': {
      const server = `server = ${q(sw.url)}`;
      const pad = (x: string): string => x.padEnd(server.length + 3);
      return {
        text: [
          `${pad(server)}# sigward is the server: no fallback to ${t.host}`,
          `${pad('[host]')}# a bare host table is REQUIRED: without one containerd 1.6 ignores the file`,
          ...(sw.insecure ? [] : ['# sigward with a private CA: add ca = "/etc/containerd/certs.d/sigward-ca.crt"']),
        ].join('\n'),
        notes: [
          `# write to /etc/containerd/certs.d/${t.host}/hosts.toml`,
          `# and set config_path = "/etc/containerd/certs.d" in containerd's CRI registry config (ctr: --hosts-dir /etc/containerd/certs.d)`,
        ],
      };
    }
    case 'podman': {
      if (t.pathName === undefined) return { text: '', notes: portCaveat(t, sw) };
      const location = `${sw.address}/${t.pathName}`;
      const pad = (x: string): string => x.padEnd(`location = ${q(location)}`.length + 3);
      return {
        text: [
          '[[registry]]',
          `prefix = ${q(t.host)}`,
          `${pad(`location = ${q(location)}`)}# the location, NOT a [[registry.mirror]]: a mirror's refusal falls back to ${t.host}`,
          ...(sw.insecure ? [`${pad('insecure = true')}# sigward serves plain HTTP`] : []),
        ].join('\n'),
        notes: [
          `# add to /etc/containers/registries.conf (or a file in /etc/containers/registries.conf.d/); podman, skopeo and CRI-O read it`,
        ],
      };
    }
    case 'docker': {
      const direct =
        t.pathName === undefined
          ? portCaveat(t, sw)
          : [
              `# To enforce with docker, address images through sigward's name and block direct access to registries:`,
              `#   docker pull ${sw.address}/${t.pathName}/REPO:TAG`,
              ...(sw.insecure
                ? [
                    `# (plain HTTP: list ${sw.address} in daemon.json "insecure-registries" unless it is on 127.0.0.0/8)`,
                  ]
                : []),
            ];
      if (!t.hub) {
        return {
          text: '',
          notes: [
            `# docker's registry-mirrors applies to Docker Hub only: there is no daemon.json setting for ${t.host}.`,
            ...direct,
          ],
          enforce: direct,
        };
      }
      return {
        text: JSON.stringify({ 'registry-mirrors': [sw.url] }, null, 2),
        notes: [
          '# write to /etc/docker/daemon.json (merge with what is there) and restart dockerd',
          '# WARNING: docker falls back to Docker Hub (registry-1.docker.io) when the mirror refuses or fails, so a',
          '# mirror cannot enforce anything with docker: a refused image is pulled from Docker Hub unsigned. Use it',
          '# for caching only, or make Docker Hub unreachable from the node.',
          ...(t.isDefault === false
            ? ['# sigward.yaml: set default: true on the docker.io upstream, or bare mirror requests get 404']
            : []),
          ...direct,
        ],
        enforce: direct,
      };
    }
  }
}
