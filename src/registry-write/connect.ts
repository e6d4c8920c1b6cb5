// The registries one CLI command talks to, each with a reader (the proxy's own read client, upstream/client.ts: digest
// checks, caps, redirects within the boundary) and a writer (writer.ts), sharing one connection pool. A registry named
// in the --config file is reached as configured there (url, auth, caFile, tokenRealms, timeouts); any other, or one
// configured without auth, takes its credentials from docker's config.json; a registry not in the config is reached
// over https, or plain http on loopback (as docker and cosign do).
import type { Dispatcher } from 'undici';
import type { LoadedConfig } from '../config/load.ts';
import { SigwardError, isSigwardError } from '../errors.ts';
import {
  DEFAULT_LIMITS,
  DEFAULT_RETRIES,
  DEFAULT_TIMEOUTS,
  type Limits,
  type UpstreamConfig,
} from '../config/types.ts';
import { upstreamNames } from '../config/upstream-names.ts';
import { UpstreamBoundary } from '../upstream/boundary.ts';
import { UpstreamClient } from '../upstream/client.ts';
import {
  BoundaryDispatcher,
  closeDispatcher,
  createDispatcher,
  createGuardedDispatcher,
} from '../upstream/dispatcher.ts';
import { dockerCredentials, type EnvLike } from './docker-config.ts';
import { RegistryWriter } from './writer.ts';

export interface Registry {
  /** The registry name as the image reference spells it. */
  readonly host: string;
  readonly cfg: UpstreamConfig;
  readonly reader: UpstreamClient;
  readonly writer: RegistryWriter;
}

export interface RegistriesOptions {
  readonly loaded?: LoadedConfig;
  readonly env: EnvLike;
  /** One line of advice for the person running the command (stderr). */
  readonly warn: (line: string) => void;
}

const LOOPBACK_RE = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/;

/** A registry on this machine (`localhost`, 127.x, [::1], any port): reached over plain http, as docker and cosign do. */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_RE.test(host);
}

export class Registries {
  private readonly byHost = new Map<string, Registry>();
  private readonly dispatchers: Dispatcher[] = [];

  constructor(private readonly opts: RegistriesOptions) {}

  get limits(): Limits {
    return this.opts.loaded?.config.limits ?? DEFAULT_LIMITS;
  }

  get(host: string): Registry {
    const key = host.toLowerCase();
    const known = this.byHost.get(key);
    if (known !== undefined) return known;
    const { cfg, password, caPem } = this.configure(key);
    const direct = createDispatcher([cfg], caPem === undefined ? new Map() : new Map([[cfg.host, caPem]]));
    const guarded = createGuardedDispatcher();
    this.dispatchers.push(direct, guarded);
    const dispatcher = new BoundaryDispatcher(new UpstreamBoundary(cfg), direct, guarded);
    const deps = { dispatcher, limits: this.limits, ...(password === undefined ? {} : { password }) };
    const registry = { host: key, cfg, reader: new UpstreamClient(cfg, deps), writer: new RegistryWriter(cfg, deps) };
    this.byHost.set(key, registry);
    return registry;
  }

  async close(): Promise<void> {
    await Promise.all(this.dispatchers.map((d) => closeDispatcher(d, 2_000)));
  }

  private configure(host: string): { cfg: UpstreamConfig; password?: string; caPem?: string } {
    const loaded = this.opts.loaded;
    const configured = loaded?.config.upstreams.find((u) => upstreamNames(u).includes(host));
    const caPem = configured === undefined ? undefined : loaded?.caPems.get(configured.host);
    const base: UpstreamConfig = configured ?? {
      host,
      aliases: [],
      url:
        host === 'docker.io' ? 'https://registry-1.docker.io' : `${isLoopbackHost(host) ? 'http' : 'https'}://${host}`,
      default: false,
      libraryPrefix: host === 'docker.io',
      auth: { kind: 'anonymous' },
      timeouts: DEFAULT_TIMEOUTS,
      retries: DEFAULT_RETRIES,
    };
    if (base.auth.kind === 'basic') {
      const password = loaded?.passwords.get(base.host);
      return { cfg: base, ...(password === undefined ? {} : { password }), ...(caPem === undefined ? {} : { caPem }) };
    }
    const found = dockerCredentials(host, this.opts.env);
    if (found !== undefined && 'unusable' in found)
      this.opts.warn(`warning: ${found.unusable}; going on without credentials`);
    if (found === undefined || 'unusable' in found) return { cfg: base, ...(caPem === undefined ? {} : { caPem }) };
    const cfg: UpstreamConfig = {
      ...base,
      auth: { kind: 'basic', username: found.username, password: { file: found.file } },
    };
    return { cfg, password: found.password, ...(caPem === undefined ? {} : { caPem }) };
  }
}

/** The read client's advice is for the proxy's operator (auth in the config); on the command line a login works too. */
export function forCommandLine(e: unknown): unknown {
  if (!isSigwardError(e, 'UPSTREAM_UNAUTHORIZED') || e.message.includes('docker login')) return e;
  return new SigwardError(e.code, `${e.message} (on the command line: docker login, or --config with its auth)`, {
    cause: e,
  });
}
