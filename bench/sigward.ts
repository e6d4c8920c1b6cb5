// sigward under test: a separate process started exactly as a user starts it (`node bin/sigward.mjs serve`), with a
// generated YAML config. All config generation is in sigwardConfig(): the upstreams (the registry, and the same
// registry behind the counting forwarder), the `trust` key of the signed images, the policy, and the `sget` store.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { stringify } from 'yaml';
import type { LogLevel } from '../src/config/types.ts';
import { startProcess, tailFile } from '../test/helpers/proc.ts';
import { KEYLESS_IDENTITY, KEYLESS_ISSUER, KEYLESS_PREFIX } from './keyless-fixtures.ts';

/** The node flags and environment the shipped launchers start the daemon with (README: "Memory and blob
 * throughput"); a unit test holds package.json's start script, the systemd unit and the Dockerfile to the same. */
export const DAEMON_NODE_ARGS: readonly string[] = ['--max-semi-space-size=1', '--initial-old-space-size=64'];
export const DAEMON_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

export interface SigwardConfigInput {
  /** The one upstream (the benchmark's distribution), made the default for bare /v2/<repo>/ requests too. */
  readonly upstream: {
    readonly host: string;
    readonly url: string;
    readonly blobs?: 'relay' | 'redirect' | 'cache';
    readonly allowPrivateNetworks?: boolean;
  };
  /** More upstreams (not default), e.g. the registry again behind the counting forwarder under another host name. */
  readonly extraUpstreams?: readonly { readonly host: string; readonly url: string }[];
  /** State/cache directory (a temp dir: never /var/cache during a benchmark). */
  readonly cacheDir: string;
  /** `warn` by default: at `info` sigward writes one access line per request, which the benchmark turns off. */
  readonly logLevel?: LogLevel;
  /** Signature trust and policy sections, passed through as written (for the signed-pull scenarios). */
  readonly trust?: unknown;
  readonly policy?: unknown;
  readonly sget?: unknown;
}

/** Where the signed images live, under every host name sigward reaches the registry by. */
export const SIGNED_PREFIX = 'bench/signed';

/**
 * The benchmark's policy. The proxy-path images are unsigned, so one explicit `allow: unsigned` rule covers
 * `<upstream>/bench/**` (every such decision still goes through policy resolution; it logs at debug, so nothing at
 * `warn`). `<host>/bench/signed/*` is more specific (a literal segment beats `**`), so there a valid signature by
 * `keyName` is required, under the upstream's own name and under the forwarder's; at `<host>/bench/keyless/*` a
 * keyless signature by the bench sigstore's identity (trust root `bench-sigstore`). Anything else stays denied.
 */
export function benchPolicy(
  upstreamHost: string,
  signedHosts: readonly string[],
  keyName: string,
): Record<string, unknown> {
  return {
    default: 'deny',
    policies: [
      { name: 'bench-unsigned', match: [`${upstreamHost}/bench/**`], allow: 'unsigned' },
      { name: 'bench-signed', match: signedHosts.map((h) => `${h}/${SIGNED_PREFIX}/*`), keys: [keyName] },
      {
        name: 'bench-keyless',
        match: signedHosts.map((h) => `${h}/${KEYLESS_PREFIX}/*`),
        identities: [{ issuer: KEYLESS_ISSUER, subject: KEYLESS_IDENTITY }],
      },
    ],
  };
}

/** The config object written as YAML for `sigward serve --config`. */
export function sigwardConfig(input: SigwardConfigInput): Record<string, unknown> {
  return {
    listen: '127.0.0.1:0',
    log: { level: input.logLevel ?? 'warn' },
    upstreams: [{ ...input.upstream, default: true }, ...(input.extraUpstreams ?? [])],
    cache: { dir: input.cacheDir },
    ...(input.trust !== undefined ? { trust: input.trust } : {}),
    ...(input.policy !== undefined ? { policy: input.policy } : {}),
    ...(input.sget !== undefined ? { sget: input.sget } : {}),
  };
}

export interface SigwardProcess {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly pid: number;
  readonly configFile: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

const BIN = fileURLToPath(new URL('../bin/sigward.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The address sigward prints once it listens (src/cli/serve.ts): `sigward listening on http://127.0.0.1:PORT`. */
function listeningUrl(logFile: string): string | undefined {
  const m = /sigward listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(tailFile(logFile, 200));
  return m?.[1];
}

/** Write the config into `dir`, start sigward on 127.0.0.1 with an OS-chosen port, wait until GET /v2/ is 200. */
export async function startSigward(config: Record<string, unknown>, dir: string): Promise<SigwardProcess> {
  const configFile = join(dir, 'sigward.yaml');
  writeFileSync(configFile, stringify(config));
  let url: string | undefined;
  const proc = await startProcess({
    name: 'sigward',
    cmd: process.execPath,
    args: [
      // As the shipped launchers run the daemon (package.json start, the systemd unit, the Dockerfile).
      ...DAEMON_NODE_ARGS,
      ...(process.env.BENCH_SIGWARD_NODE_ARGS ? process.env.BENCH_SIGWARD_NODE_ARGS.split(' ') : []),
      BIN,
      'serve',
      '--config',
      configFile,
      '--listen',
      '127.0.0.1:0',
    ],
    dir,
    cwd: ROOT,
    env: { ...process.env, ...DAEMON_ENV, NODE_ENV: 'production' },
    timeoutMs: 30_000,
    ready: async () => {
      url ??= listeningUrl(join(dir, 'sigward.log'));
      if (url === undefined) return false;
      const res = await request(`${url}/v2/`);
      await res.body.dump();
      return res.statusCode === 200;
    },
  });
  if (url === undefined) throw new Error(`sigward became ready but its log ${proc.logFile} names no listening address`);
  // tsx starts node with a loader; the pid is the node process that serves (startProcess spawns it directly).
  return { url, pid: proc.pid, configFile, logFile: proc.logFile, stop: () => proc.stop() };
}
