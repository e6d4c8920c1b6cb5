// The three contenders, all on 127.0.0.1 with OS-chosen ports:
//   direct  - distribution 2.8 (Debian's docker-registry) holding the images: the ceiling
//   sigward - the daemon under test, a separate process in front of `direct`
//   peer    - distribution in pull-through mode in front of `direct`: the tool to beat
// Access logs are off everywhere (distribution accesslog disabled + level error; sigward at log level warn).
//   ceiling - what node itself does on this machine (relay.ts): for blob figures a raw node relay in front of
//             `direct`; for manifest figures the least node proxy (node:http + undici, floor-server.ts)
// sigward knows the upstream under a second name too: the counting forwarder's address (forwarder.ts), used only
// by the cold signed-pull scenarios; every load figure goes to the upstream without it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newKey, type TestKey } from '../test/helpers/cosign.ts';
import { createTestSigstore, type TestSigstore } from '../test/helpers/test-sigstore.ts';
import { removeTempDir, tempDir } from '../test/helpers/proc.ts';
import { startRegistry, type Registry } from '../test/helpers/registry.ts';
import { startForwarder, type Forwarder } from './forwarder.ts';
import { startFloor, startRelay, type RelayProcess } from './relay.ts';
import { progress, type Settings } from './settings.ts';
import { benchPolicy, sigwardConfig, startSigward, type SigwardConfigInput, type SigwardProcess } from './sigward.ts';

/** The contenders of every scenario. */
export const CONTENDERS = ['direct', 'sigward', 'peer'] as const;
export type Contender = (typeof CONTENDERS)[number];
/** With `ceiling`: in the blob scenarios the raw node relay (one blob GET per connection), in the manifest scenarios
 * the least node proxy (asked at its own URL, `floor`, and reported as the ceiling). */
export type AnyContender = Contender | 'ceiling';

export interface Stack {
  readonly upstream: Registry;
  readonly sigward: SigwardProcess;
  readonly peer: Registry;
  /** The upstream again, through the counting/delaying forwarder: sigward's second upstream. */
  readonly forwarder: Forwarder;
  /** The raw node relay to the upstream: the ceiling of what a node process relays on this machine. */
  readonly relay: RelayProcess;
  /** The least node proxy to the upstream (floor-server.ts): the ceiling of a node process answering manifests. */
  readonly floor: RelayProcess;
  /** The key the signed images are signed with; sigward trusts it as `bench`. */
  readonly key: TestKey;
  /** The keyless images' sigstore; sigward trusts its root as `bench-sigstore`. */
  readonly sigstore: TestSigstore;
  /** The benchmark's own temp dir (config, build files). */
  readonly tmp: string;
  /** Full URL of `/v2/<repo>/<rest>` as each contender is asked for it. */
  url(contender: AnyContender | 'floor', repo: string, rest: string): string;
  /** sigward's URL of `/v2/<repo>/<rest>` for the upstream named `host` (the upstream's or the forwarder's). */
  sigwardUrl(host: string, repo: string, rest: string): string;
  /** sigward's `/sget/<upstream host>/<what>` (what = `<repo>@<digest>`, …). */
  sgetUrl(what: string): string;
}

/** The key name under `trust.keys`. */
export const KEY_NAME = 'bench';

/** Everything started so far, so a failure halfway still stops what did start. */
export class Starter {
  private readonly stops: (() => Promise<void>)[] = [];
  readonly tmp = tempDir('bench');

  async upstream(): Promise<Registry> {
    const reg = await startRegistry({ accessLog: false, logLevel: 'error' });
    this.stops.push(() => reg.stop());
    progress(`upstream distribution on ${reg.url} (access log off, log level error)`);
    return reg;
  }

  async sigward(upstream: Registry, extra: Partial<SigwardConfigInput> = {}): Promise<SigwardProcess> {
    const config = sigwardConfig({
      upstream: { host: upstream.host, url: upstream.url },
      cacheDir: join(this.tmp, 'cache'),
      ...extra,
    });
    const sw = await startSigward(config, this.tmp);
    this.stops.push(() => sw.stop());
    const policy = extra.policy !== undefined ? `, policy ${JSON.stringify(extra.policy)}` : '';
    progress(
      `sigward on ${sw.url} (pid ${sw.pid}, log level ${String((config.log as { level: string }).level)}: access lines off${policy})`,
    );
    return sw;
  }

  async forwarder(upstream: Registry): Promise<Forwarder> {
    const fwd = await startForwarder(upstream.url);
    this.stops.push(() => fwd.stop());
    progress(`counting forwarder on ${fwd.url} -> ${upstream.url} (sigward's second upstream, host ${fwd.host})`);
    return fwd;
  }

  async relay(upstream: Registry): Promise<RelayProcess> {
    const relay = await startRelay(upstream.url, this.tmp);
    this.stops.push(() => relay.stop());
    progress(
      `ceiling: raw node relay on ${relay.url} -> ${upstream.url} (net.Socket, no HTTP parser, no hashing; pid ${relay.pid})`,
    );
    return relay;
  }

  async floor(upstream: Registry): Promise<RelayProcess> {
    const floor = await startFloor(upstream.url, this.tmp);
    this.stops.push(() => floor.stop());
    progress(
      `manifest ceiling: the least node proxy on ${floor.url} -> ${upstream.url} (node:http + undici, no checks; pid ${floor.pid})`,
    );
    return floor;
  }

  async peer(upstream: Registry): Promise<Registry> {
    const reg = await startRegistry({ proxy: { remoteUrl: upstream.url }, accessLog: false, logLevel: 'error' });
    this.stops.push(() => reg.stop());
    progress(`peer: distribution pull-through cache on ${reg.url} (access log off, log level error)`);
    return reg;
  }

  /** Stop in reverse order of starting, then remove the temp dir; every stop is attempted even if one fails. */
  async stopAll(): Promise<void> {
    const errors: unknown[] = [];
    for (const stop of this.stops.splice(0).reverse()) await stop().catch((e: unknown) => errors.push(e));
    removeTempDir(this.tmp);
    if (errors.length > 0) throw new AggregateError(errors, 'some benchmark processes did not stop cleanly');
  }
}

/**
 * The sget store must hold every cold download of the sget scenario (one artifact per round, the blob size plus the
 * tar framing) so that none is evicted while it is being measured.
 */
export function sgetSection(settings: Settings): Record<string, string> {
  const artifactMiB = settings.blobMiB + 16;
  return { storeSize: `${(settings.rounds + 1) * artifactMiB}MiB`, maxArtifactSize: `${artifactMiB}MiB` };
}

/** Start the three contenders through `starter`, which stops them (Starter.stopAll), also after a partial start. */
export async function startStack(starter: Starter, settings: Settings): Promise<Stack> {
  const upstream = await starter.upstream();
  const forwarder = await starter.forwarder(upstream);
  const key = newKey(KEY_NAME);
  // The keyless scenario's own sigstore; sigward trusts its trusted_root.json as the trust root `bench-sigstore`.
  const sigstore = createTestSigstore();
  const rootFile = join(starter.tmp, 'bench-sigstore.trusted_root.json');
  writeFileSync(rootFile, sigstore.trustedRootJson);
  const sigward = await starter.sigward(upstream, {
    extraUpstreams: [{ host: forwarder.host, url: forwarder.url }],
    trust: { keys: { [KEY_NAME]: { pem: key.publicPem } }, roots: { 'bench-sigstore': { trustedRoot: rootFile } } },
    policy: benchPolicy(upstream.host, [upstream.host, forwarder.host], KEY_NAME),
    sget: sgetSection(settings),
  });
  const peer = await starter.peer(upstream);
  const relay = await starter.relay(upstream);
  const floor = await starter.floor(upstream);
  return {
    upstream,
    sigward,
    peer,
    forwarder,
    relay,
    floor,
    key,
    sigstore,
    tmp: starter.tmp,
    sigwardUrl: (host, repo, rest) => `${sigward.url}/v2/${repo}/${rest}?ns=${host}`,
    sgetUrl: (what) => `${sigward.url}/sget/${upstream.host}/${what}`,
    url(contender, repo, rest) {
      switch (contender) {
        case 'direct':
          return `${upstream.url}/v2/${repo}/${rest}`;
        // containerd's shape (hosts.toml mirror): the registry host of the image reference in ?ns=.
        case 'sigward':
          return `${sigward.url}/v2/${repo}/${rest}?ns=${upstream.host}`;
        case 'peer':
          return `${peer.url}/v2/${repo}/${rest}`;
        case 'ceiling':
          return `${relay.url}/v2/${repo}/${rest}`;
        case 'floor':
          return `${floor.url}/v2/${repo}/${rest}`;
      }
    },
  };
}
