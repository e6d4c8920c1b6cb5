// Which upstream and repository a request means. Three request shapes (one per runtime family):
//   /v2/<host>/<repo>/…        path-prefix mirrors (containers registries.conf location = sigward/<host>)
//   /v2/<repo>/…?ns=<host>     containerd hosts.toml (ns = the registry host of the image reference)
//   /v2/<repo>/…               docker `registry-mirrors`: the default upstream (Docker Hub), `library/` for one segment
// Only configured upstreams are ever contacted: anything else is refused here, before any connection.
import { SigwardError } from '../errors.ts';
import { clip } from '../util/clip.ts';
import { isHost, looksLikeHost, parseRepositoryName } from '../oci/reference.ts';
import type { UpstreamConfig } from '../config/types.ts';
import type { Target } from '../proxy/target.ts';

export class Router {
  private readonly byName = new Map<string, UpstreamConfig>();
  private readonly fallback: UpstreamConfig | undefined;

  constructor(upstreams: readonly UpstreamConfig[]) {
    for (const u of upstreams) for (const n of [u.host, ...u.aliases]) this.byName.set(n, u);
    this.fallback = upstreams.find((u) => u.default);
  }

  private unknownHost(host: string): SigwardError {
    const known = [...new Set([...this.byName.values()].map((u) => u.host))].join(', ');
    return new SigwardError(
      'UPSTREAM_UNKNOWN',
      `registry ${clip(host)} is not configured in sigward, so it is not contacted (configured: ${known || 'none'}); add it under upstreams to allow it`,
      { reason: 'registry not configured in sigward' },
    );
  }

  upstreamFor(host: string): UpstreamConfig {
    const u = this.byName.get(host.toLowerCase());
    if (!u) throw this.unknownHost(host);
    return u;
  }

  /** `name` is everything between /v2/ and /manifests|blobs|tags|referrers; `ns` is containerd's query parameter. */
  resolve(name: string, ns: string | undefined | null): Target {
    const slash = name.indexOf('/');
    const first = slash < 0 ? name : name.slice(0, slash);
    let upstream: UpstreamConfig | undefined;
    let repo = name;
    if (ns !== undefined && ns !== null && ns !== '') {
      if (!isHost(ns))
        throw new SigwardError(
          'NAME_INVALID',
          `invalid ns parameter ${JSON.stringify(clip(ns))}: expected a registry host`,
        );
      upstream = this.upstreamFor(ns);
      // override_path mirrors send both a host prefix and ns; strip the prefix when it names the same registry.
      if (slash > 0 && this.byName.get(first.toLowerCase()) === upstream) repo = name.slice(slash + 1);
    } else if (slash > 0 && this.byName.has(first.toLowerCase())) {
      upstream = this.byName.get(first.toLowerCase());
      repo = name.slice(slash + 1);
    } else if (slash > 0 && looksLikeHost(first)) {
      throw this.unknownHost(first);
    } else {
      upstream = this.fallback;
      if (!upstream) {
        throw new SigwardError(
          'UPSTREAM_UNKNOWN',
          `no registry host in the path /v2/${clip(name)} and no default upstream is configured; use /v2/<registry host>/<repository>/… or set default: true on one upstream`,
        );
      }
    }
    if (!upstream) throw this.unknownHost(first);
    parseRepositoryName(repo);
    if (upstream.libraryPrefix && !repo.includes('/')) repo = `library/${repo}`;
    return { upstream, repository: parseRepositoryName(repo) };
  }
}
