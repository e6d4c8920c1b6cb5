// All configured upstreams: one UpstreamClient each, sharing the dispatchers (one connection pool per origin): the
// direct Agent for what the operator configured, the guarded one for where upstreams point (dispatcher.ts).
// Secrets (passwords, CA bundles) come through an injected source: `secretsFromLoaded` uses what loadConfig()
// already read and checked, `secretsFromFiles` reads SecretRefs itself (file or environment variable).
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Dispatcher } from 'undici';
import type { Limits, SecretRef, UpstreamConfig } from '../config/types.ts';
import { SigwardError } from '../errors.ts';
import { clip } from '../util/clip.ts';
import type { OnRequest } from './auth.ts';
import { UpstreamClient } from './client.ts';
import { UpstreamBoundary } from './boundary.ts';
import { BoundaryDispatcher, closeDispatcher, createDispatcher, createGuardedDispatcher, type DispatcherOptions } from './dispatcher.ts';

export interface UpstreamSecrets {
  /** The Basic password of an upstream with `auth.kind === 'basic'`. */
  password(u: UpstreamConfig): string | undefined;
  /** The PEM text of an upstream's `caFile`. */
  caPem(u: UpstreamConfig): string | undefined;
}

/** Secrets already resolved by loadConfig() (maps keyed by upstream host). */
export function secretsFromLoaded(loaded: { passwords: ReadonlyMap<string, string>; caPems: ReadonlyMap<string, string> }): UpstreamSecrets {
  return { password: (u) => loaded.passwords.get(u.host), caPem: (u) => loaded.caPems.get(u.host) };
}

export interface FileSecretOptions {
  /** Reads a file as UTF-8 (default fs.readFileSync). */
  readonly readFile?: (path: string) => string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Relative paths are taken from here (the config file's directory). */
  readonly baseDir?: string;
}

/** Resolve SecretRefs and caFiles directly. Failures are CONFIG_INVALID naming the upstream, never the value. */
export function secretsFromFiles(opts: FileSecretOptions = {}): UpstreamSecrets {
  const readFile = opts.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const env = opts.env ?? process.env;
  const full = (p: string): string => (isAbsolute(p) || opts.baseDir === undefined ? p : resolve(opts.baseDir, p));
  const read = (path: string, what: string, u: UpstreamConfig): string => {
    try {
      return readFile(full(path));
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'error';
      throw new SigwardError('CONFIG_INVALID', `cannot read the ${what} of upstream ${u.host} from ${full(path)} (${code}); fix the path or the file's permissions`, { cause: e });
    }
  };
  const secret = (ref: SecretRef, u: UpstreamConfig): string => {
    if (ref.file !== undefined) return read(ref.file, 'password file', u).replace(/\r?\n$/, '');
    const value = ref.env === undefined ? undefined : env[ref.env];
    if (value === undefined) {
      throw new SigwardError('CONFIG_INVALID', `the password of upstream ${u.host} is to come from environment variable ${ref.env ?? '(none)'}, which is not set`);
    }
    return value;
  };
  return {
    password: (u) => (u.auth.kind === 'basic' ? secret(u.auth.password, u) : undefined),
    caPem: (u) => (u.caFile === undefined ? undefined : read(u.caFile, 'caFile', u)),
  };
}

export interface UpstreamsOptions {
  readonly limits: Limits;
  /** Where passwords and CA bundles come from. Default: `passwords`/`caPems` when given, else secretsFromFiles(). */
  readonly secrets?: UpstreamSecrets;
  /** Shorthand for `secrets: secretsFromLoaded({ passwords, caPems })` (what loadConfig() returns). */
  readonly passwords?: ReadonlyMap<string, string>;
  readonly caPems?: ReadonlyMap<string, string>;
  /** An injected dispatcher (tests, fault injection). It is not closed by close(), and caFile trust and the
   * connect-time address check (address-guard.ts) are then its owner's business; the request-level checks of
   * boundary.ts still apply. Default: the Agents of createDispatcher() and createGuardedDispatcher(), owned and
   * closed here. */
  readonly dispatcher?: Dispatcher;
  readonly dispatcherOptions?: DispatcherOptions;
  readonly now?: () => number;
  readonly onRequest?: OnRequest;
}

export class Upstreams {
  readonly dispatcher: Dispatcher;
  /** The Agent for redirect targets and token realms outside what was configured; none with an injected dispatcher. */
  private readonly guarded: Dispatcher | undefined;
  private readonly ownsDispatcher: boolean;
  private readonly byName = new Map<string, UpstreamClient>();
  private readonly clients: UpstreamClient[] = [];

  constructor(upstreams: readonly UpstreamConfig[], opts: UpstreamsOptions) {
    const secrets =
      opts.secrets ??
      (opts.passwords !== undefined || opts.caPems !== undefined
        ? secretsFromLoaded({ passwords: opts.passwords ?? new Map(), caPems: opts.caPems ?? new Map() })
        : secretsFromFiles());
    const caPems = new Map<string, string>();
    const passwords = new Map<string, string>();
    const names = new Set<string>();
    for (const u of upstreams) {
      for (const name of [u.host, ...u.aliases]) {
        if (names.has(name.toLowerCase())) {
          throw new SigwardError('CONFIG_INVALID', `registry name ${name} is configured for more than one upstream; each host or alias may appear once`);
        }
        names.add(name.toLowerCase());
      }
      const ca = secrets.caPem(u);
      if (ca !== undefined) caPems.set(u.host, ca);
      if (u.auth.kind === 'basic') {
        const pw = secrets.password(u);
        if (pw === undefined) {
          throw new SigwardError('CONFIG_INVALID', `upstream ${u.host} uses basic auth but no password was found for it; set passwordFile or passwordEnv`);
        }
        passwords.set(u.host, pw);
      }
    }
    this.ownsDispatcher = opts.dispatcher === undefined;
    this.dispatcher = opts.dispatcher ?? createDispatcher(upstreams, caPems, opts.dispatcherOptions);
    this.guarded = opts.dispatcher === undefined ? createGuardedDispatcher(opts.dispatcherOptions) : undefined;
    for (const u of upstreams) {
      const pw = passwords.get(u.host);
      const client = new UpstreamClient(u, {
        dispatcher: this.guarded === undefined ? this.dispatcher : new BoundaryDispatcher(new UpstreamBoundary(u), this.dispatcher, this.guarded),
        limits: opts.limits,
        ...(pw === undefined ? {} : { password: pw }),
        ...(opts.now === undefined ? {} : { now: opts.now }),
        ...(opts.onRequest === undefined ? {} : { onRequest: opts.onRequest }),
      });
      this.clients.push(client);
      for (const name of [u.host, ...u.aliases]) this.byName.set(name.toLowerCase(), client);
    }
  }

  /** The client for a registry host or alias. Unknown names are refused: only configured upstreams are contacted. */
  get(host: string): UpstreamClient {
    const client = this.byName.get(host.toLowerCase());
    if (client === undefined) {
      const known = this.clients.map((c) => c.host).join(', ') || 'none';
      throw new SigwardError('UPSTREAM_UNKNOWN', `registry ${clip(host)} is not a configured upstream (configured: ${known}); add it under upstreams to use it`, {
        detail: { host: clip(host) },
      });
    }
    return client;
  }

  /** Every client, in configuration order. */
  all(): readonly UpstreamClient[] {
    return this.clients;
  }

  async close(graceMs?: number): Promise<void> {
    if (!this.ownsDispatcher) return;
    await Promise.all([closeDispatcher(this.dispatcher, graceMs), this.guarded === undefined ? undefined : closeDispatcher(this.guarded, graceMs)]);
  }
}
