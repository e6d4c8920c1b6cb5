// Keeps the TUF-kept trust roots (`trust.roots.<name>.tuf`) current for a running daemon.
//   open():  each root's trusted_root.json from its repository; if that fails, from the verified cached TUF state
//            (a warning says how old it is); if neither, the daemon does not start (TRUST_UNAVAILABLE says why and
//            how to pin a file instead). The policy is then compiled with those roots.
//   refresh: every `refresh` (or refreshNow()), in the background, one fetch per root at a time. A changed
//            trusted_root.json recompiles the policy from the same config (the files as read at load) and hands it
//            to `apply` in one call: new verifications use it, requests in flight finish on the policy they started
//            with, and the policy hash changes (a root's sha256 is part of it), so no verdict cached under the old
//            root is reused. A failed fetch or an unusable root keeps the current policy and logs a warning: never
//            no root.
import { SigwardError } from '../errors.ts';
import type { LoadedConfig } from '../config/load.ts';
import { recordTufFetch, sha256, type TufRoot } from '../config/tuf.ts';
import type { Logger } from '../log.ts';
import type { CompiledPolicy } from '../policy/types.ts';
import { describeError, fetchFromRepository, loadFromCache, type TufClientOptions } from './fetch.ts';

export interface KeeperOptions {
  readonly client?: TufClientOptions;
}

/** What one refresh of one root did. */
export interface RefreshReport {
  readonly root: string;
  readonly outcome: 'changed' | 'unchanged' | 'failed';
  /** The policy hash after the refresh. */
  readonly policyHash: string;
  /** Why it failed. */
  readonly why?: string;
}

export class TrustKeeper {
  private current: CompiledPolicy;
  private texts: ReadonlyMap<string, string>;
  private apply: ((policy: CompiledPolicy) => void) | undefined;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Map<string, Promise<RefreshReport>>();
  private closed = false;

  private constructor(
    private readonly loaded: LoadedConfig,
    private readonly log: Logger,
    private readonly opts: KeeperOptions,
    texts: ReadonlyMap<string, string>,
    policy: CompiledPolicy,
  ) {
    this.texts = texts;
    this.current = policy;
  }

  /** Load every TUF root (repository, else verified cache) and compile the policy with them. Throws
   * TRUST_UNAVAILABLE when a root can be had from neither. A config without TUF roots contacts nothing. */
  static async open(loaded: LoadedConfig, log: Logger, opts: KeeperOptions = {}): Promise<TrustKeeper> {
    const texts = new Map<string, string>();
    for (const root of loaded.tufRoots) texts.set(root.name, await initialText(root, log, opts));
    let policy = loaded.policy;
    if (texts.size > 0) {
      try {
        policy = loaded.recompile(texts);
      } catch (e) {
        throw new SigwardError(
          'TRUST_UNAVAILABLE',
          `the trusted_root.json obtained through TUF cannot be used: ${(e as Error).message}`,
          { cause: e },
        );
      }
    }
    return new TrustKeeper(loaded, log, opts, texts, policy);
  }

  /** The policy compiled with the current roots. */
  get policy(): CompiledPolicy {
    return this.current;
  }

  get roots(): readonly TufRoot[] {
    return this.loaded.tufRoots;
  }

  /** Refresh each root every `refresh` from now on, handing a changed policy to `apply`. */
  start(apply: (policy: CompiledPolicy) => void): void {
    this.apply = apply;
    for (const root of this.loaded.tufRoots) this.schedule(root);
  }

  /** Refresh every root now (what the timer does; tests call it instead of waiting). */
  async refreshNow(): Promise<RefreshReport[]> {
    return Promise.all(this.loaded.tufRoots.map((r) => this.refresh(r)));
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private schedule(root: TufRoot): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      void this.refresh(root).finally(() => this.schedule(root));
    }, root.refreshMs);
    timer.unref();
    this.timers.set(root.name, timer);
  }

  /** One refresh of a root at a time: a second caller gets the one under way. */
  private refresh(root: TufRoot): Promise<RefreshReport> {
    let p = this.running.get(root.name);
    if (p === undefined) {
      p = this.refreshOnce(root).finally(() => this.running.delete(root.name));
      this.running.set(root.name, p);
    }
    return p;
  }

  private async refreshOnce(root: TufRoot): Promise<RefreshReport> {
    const at = { root: root.name, url: root.url };
    let text: string;
    try {
      text = await fetchFromRepository(root, this.opts.client);
    } catch (e) {
      return this.refused(root, `the TUF repository could not be used: ${describeError(e)}`);
    }
    if (this.closed) return { root: root.name, outcome: 'unchanged', policyHash: this.current.hash };
    remember(root, text, this.log);
    const before = this.texts.get(root.name);
    if (text === before) {
      this.log.debug({ ...at, sha256: sha256(text) }, 'trust root checked through TUF: unchanged');
      return { root: root.name, outcome: 'unchanged', policyHash: this.current.hash };
    }
    // From here to the swap nothing awaits: two roots refreshed at once each build on the other's result.
    const texts = new Map(this.texts).set(root.name, text);
    let next: CompiledPolicy;
    try {
      next = this.loaded.recompile(texts);
    } catch (e) {
      return this.refused(root, `the new trusted_root.json cannot be used: ${(e as Error).message}`);
    }
    const oldHash = this.current.hash;
    this.texts = texts;
    this.current = next;
    this.apply?.(next);
    this.log.info(
      {
        ...at,
        from: before === undefined ? null : sha256(before).slice(0, 12),
        to: sha256(text).slice(0, 12),
        policyHash: next.hash,
        previousPolicyHash: oldHash,
      },
      'trust root updated through TUF: new verifications use it',
    );
    return { root: root.name, outcome: 'changed', policyHash: next.hash };
  }

  private refused(root: TufRoot, why: string): RefreshReport {
    this.log.warn(
      { root: root.name, url: root.url, why, policyHash: this.current.hash },
      'trust root refresh failed: keeping the current root',
    );
    return { root: root.name, outcome: 'failed', policyHash: this.current.hash, why };
  }
}

/** At start: the repository, else the verified cache (with a warning saying how old it is), else a clear refusal. */
async function initialText(root: TufRoot, log: Logger, opts: KeeperOptions): Promise<string> {
  let online: unknown;
  try {
    const text = await fetchFromRepository(root, opts.client);
    remember(root, text, log);
    log.info({ root: root.name, url: root.url, sha256: sha256(text).slice(0, 12) }, 'trust root fetched through TUF');
    return text;
  } catch (e) {
    online = e;
  }
  try {
    const { text, fetchedAt } = await loadFromCache(root);
    const age = formatAge(Date.now() - fetchedAt.getTime());
    log.warn(
      {
        root: root.name,
        url: root.url,
        why: describeError(online),
        cacheDir: root.cacheDir,
        fetchedAt: fetchedAt.toISOString(),
        age,
      },
      `TUF repository not usable: starting with the cached trusted root of ${fetchedAt.toISOString()} (${age} old)`,
    );
    return text;
  } catch (cached) {
    throw new SigwardError(
      'TRUST_UNAVAILABLE',
      `trust root "${root.name}": cannot get its trusted_root.json from the TUF repository ${root.url} ` +
        `(${describeError(online)}), and there is no usable cached copy in ${root.cacheDir} (${describeError(cached)}). ` +
        `sigward does not start without it. Make the repository reachable, or, for offline (air-gapped) use, pin ` +
        `the file instead: trust.roots.${root.name}: { trustedRoot: /path/to/trusted_root.json } ` +
        '(config/sigstore-public-good.PROVENANCE.md says how to get and check one).',
      { cause: online },
    );
  }
}

/** Note the successful fetch for check-config and the cache's age; a cache directory that cannot take it is logged. */
function remember(root: TufRoot, text: string, log: Logger): void {
  try {
    recordTufFetch(root, text, new Date());
  } catch (e) {
    log.warn({ root: root.name, cacheDir: root.cacheDir, why: (e as Error).message }, 'cannot record the TUF fetch');
  }
}

/** `45s`, `12m`, `3h 5m`, `2d 4h`. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}
