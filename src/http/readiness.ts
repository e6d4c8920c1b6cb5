// `/readyz`: can this daemon serve? Ready (200) when its configuration is loaded (policy hash and generation
// reported) and its store directory takes a write; not ready (503, with the reason) otherwise. Every upstream's
// reachability is REPORTED, never judged: a node that went unready with its upstream would flap with it, and its
// cached and already-decided answers still serve. Under `sigward serve`, it also reports reloads (`reload`: the
// daemon's pid, the reload requests received, the last attempt's outcome), which `sigward reload` reads.
//
// Nothing here runs on its own: the store is probed (a small file written and removed) at most once per
// STORE_CHECK_MS, and each upstream is probed (`GET /v2/`, any HTTP answer counts as reachable) at most once per
// UPSTREAM_PROBE_MS, both only when /readyz is asked. /readyz never waits for an upstream: it reports the last
// known outcome ('unknown' before the first probe has answered).
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SigwardError } from '../errors.ts';
import { errorCode } from '../upstream/status.ts';

export const STORE_CHECK_MS = 5_000;
export const UPSTREAM_PROBE_MS = 30_000;

export interface Probeable {
  readonly host: string;
  ping(): Promise<{ status: number } | { error: SigwardError }>;
}

/** One configuration reload attempt (SIGHUP or `sigward reload`), as cli/serve.ts ran it. */
export interface ReloadResult {
  /** Which request it answered: the count of reload requests the daemon had received when it began reading the
   * file (`sigward reload` waits for one beyond the count it saw before signalling). */
  readonly request: number;
  /** When it finished (ISO time). */
  readonly at: string;
  readonly ok: boolean;
  /** The generation serving afterwards (the new one when ok, the old one when refused). */
  readonly generation: number;
  readonly policyHash: string;
  /** Refused: why (every problem of the config, or why its trust roots could not be had). */
  readonly error?: string;
  /** Applied: settings that changed but keep their old value until a restart (`listen`, `cache.dir`, ...). */
  readonly restartNeeded?: readonly string[];
}

/** What /readyz says about reloads: the daemon's pid (the process `sigward reload` signals), the count of reload
 * requests received, and the last attempt's outcome (none before the first). */
export interface ReloadStatus {
  readonly pid: number;
  readonly requests: number;
  readonly last?: ReloadResult;
}

export interface ReadinessDeps {
  /** The loaded configuration: its file, the current policy hash, and how many generations have been in force
   * (1 at start, +1 for each reload applied and each TUF-refreshed trust root that changed the policy). Undefined:
   * not loaded. */
  readonly config: () => { file: string; policyHash: string; generation: number } | undefined;
  /** The store directory (`<cache.dir>/sget`); created if missing, as the store itself does. */
  readonly storeDir: string;
  readonly upstreams: readonly Probeable[];
  readonly now?: () => number;
  /** The daemon's reload state (cli/serve.ts); absent: not reported. */
  readonly reload?: () => ReloadStatus;
}

export interface UpstreamReachability {
  readonly host: string;
  readonly reachability: 'unknown' | 'ok' | 'failing';
  /** When the current state began (ISO time). */
  readonly since?: string;
  /** When it was last probed. */
  readonly checkedAt?: string;
  /** Failing: the error class (sigward's code, and the system's) and what was seen. */
  readonly errorClass?: string;
  readonly errorCode?: string;
  readonly error?: string;
}

export interface ReadinessReport {
  readonly status: 'ready' | 'not ready';
  readonly reasons: readonly string[];
  readonly config: { file: string; policyHash: string; generation: number } | null;
  readonly store: { dir: string; writable: boolean; checkedAt: string; error?: string };
  readonly upstreams: readonly UpstreamReachability[];
  readonly reload?: ReloadStatus;
}

interface StoreCheck {
  readonly at: number;
  readonly error: string | undefined;
}

interface UpstreamState {
  lastProbe: number | undefined;
  inFlight: Promise<void> | undefined;
  report: UpstreamReachability;
}

export class Readiness {
  private readonly now: () => number;
  private store: StoreCheck | undefined;
  private storeInFlight: Promise<StoreCheck> | undefined;
  private readonly states: Map<Probeable, UpstreamState>;

  constructor(private readonly deps: ReadinessDeps) {
    this.now = deps.now ?? Date.now;
    this.states = new Map(
      deps.upstreams.map((u) => [
        u,
        { lastProbe: undefined, inFlight: undefined, report: { host: u.host, reachability: 'unknown' } },
      ]),
    );
  }

  async report(): Promise<ReadinessReport> {
    this.probeUpstreams();
    // Taken before anything is awaited: the outcomes known when /readyz was asked.
    const upstreams = [...this.states.values()].map((s) => s.report);
    const store = await this.checkStore();
    const config = this.deps.config();
    const reasons: string[] = [];
    if (config === undefined) reasons.push('the configuration is not loaded');
    if (store.error !== undefined)
      reasons.push(`the store directory ${this.deps.storeDir} is not writable: ${store.error}`);
    return {
      status: reasons.length === 0 ? 'ready' : 'not ready',
      reasons,
      config: config ?? null,
      store: {
        dir: this.deps.storeDir,
        writable: store.error === undefined,
        checkedAt: new Date(store.at).toISOString(),
        ...(store.error === undefined ? {} : { error: store.error }),
      },
      upstreams,
      ...(this.deps.reload ? { reload: this.deps.reload() } : {}),
    };
  }

  /** Resolves once no upstream probe is in flight (tests). */
  async idle(): Promise<void> {
    for (const s of this.states.values()) if (s.inFlight !== undefined) await s.inFlight;
  }

  private checkStore(): Promise<StoreCheck> {
    const last = this.store;
    if (last !== undefined && this.now() - last.at < STORE_CHECK_MS) return Promise.resolve(last);
    this.storeInFlight ??= this.writeProbe().then((check) => {
      this.store = check;
      this.storeInFlight = undefined;
      return check;
    });
    return this.storeInFlight;
  }

  private async writeProbe(): Promise<StoreCheck> {
    const dir = this.deps.storeDir;
    const file = join(dir, `.readyz-probe-${process.pid}`);
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(file, 'readyz\n');
      await unlink(file);
      return { at: this.now(), error: undefined };
    } catch (e) {
      const code = errorCode(e);
      const message = e instanceof Error ? e.message : String(e);
      return { at: this.now(), error: code === undefined ? message : `${code} (${message})` };
    }
  }

  private probeUpstreams(): void {
    const now = this.now();
    for (const [upstream, state] of this.states) {
      if (state.inFlight !== undefined) continue;
      if (state.lastProbe !== undefined && now - state.lastProbe < UPSTREAM_PROBE_MS) continue;
      state.lastProbe = now;
      state.inFlight = upstream.ping().then(
        (outcome) => this.record(state, outcome),
        (e: unknown) => this.record(state, { thrown: e }),
      );
    }
  }

  private record(
    state: UpstreamState,
    outcome: { status: number } | { error: SigwardError } | { thrown: unknown },
  ): void {
    state.inFlight = undefined;
    const at = new Date(this.now()).toISOString();
    const prev = state.report;
    let next: UpstreamReachability;
    if ('status' in outcome && outcome.status < 500) {
      next = {
        host: prev.host,
        reachability: 'ok',
        since: prev.reachability === 'ok' ? prev.since : at,
        checkedAt: at,
      };
    } else {
      const failure =
        'status' in outcome
          ? { errorClass: 'UPSTREAM_UNAVAILABLE', error: `GET /v2/ answered HTTP ${outcome.status}` }
          : 'error' in outcome
            ? {
                errorClass: outcome.error.code,
                ...(typeof outcome.error.detail?.errorCode === 'string'
                  ? { errorCode: outcome.error.detail.errorCode }
                  : {}),
                error: outcome.error.message,
              }
            : { errorClass: 'INTERNAL', error: String(outcome.thrown) };
      next = {
        host: prev.host,
        reachability: 'failing',
        since: prev.reachability === 'failing' ? prev.since : at,
        checkedAt: at,
        ...failure,
      };
    }
    state.report = next;
  }
}
