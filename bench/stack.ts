// The three contenders, all on 127.0.0.1 with OS-chosen ports:
//   direct  - distribution 2.8 (Debian's docker-registry) holding the images: the ceiling
//   sigward - the daemon under test, a separate process in front of `direct`
//   peer    - distribution in pull-through mode in front of `direct` (real-clients.md 1(e)): the tool to beat
// Access logs are off everywhere (distribution accesslog disabled + level error; sigward at log level warn).
import { join } from 'node:path';
import { removeTempDir, tempDir } from '../test/helpers/proc.ts';
import { startRegistry, type Registry } from '../test/helpers/registry.ts';
import { progress } from './settings.ts';
import { sigwardConfig, startSigward, unsignedBenchPolicy, type SigwardConfigInput, type SigwardProcess } from './sigward.ts';

export const CONTENDERS = ['direct', 'sigward', 'peer'] as const;
export type Contender = (typeof CONTENDERS)[number];

export interface Stack {
  readonly upstream: Registry;
  readonly sigward: SigwardProcess;
  readonly peer: Registry;
  /** The benchmark's own temp dir (config, build files). */
  readonly tmp: string;
  /** Full URL of `/v2/<repo>/<rest>` as each contender is asked for it. */
  url(contender: Contender, repo: string, rest: string): string;
}

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
    const config = sigwardConfig({ upstream: { host: upstream.host, url: upstream.url }, cacheDir: join(this.tmp, 'cache'), ...extra });
    const sw = await startSigward(config, this.tmp);
    this.stops.push(() => sw.stop());
    const policy = extra.policy !== undefined ? `, policy ${JSON.stringify(extra.policy)}` : '';
    progress(`sigward on ${sw.url} (pid ${sw.pid}, log level ${String((config.log as { level: string }).level)}: access lines off${policy})`);
    return sw;
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

/** Start the three contenders through `starter`, which stops them (Starter.stopAll), also after a partial start. */
export async function startStack(starter: Starter): Promise<Stack> {
  const upstream = await starter.upstream();
  const sigward = await starter.sigward(upstream, { policy: unsignedBenchPolicy(upstream.host) });
  const peer = await starter.peer(upstream);
  return {
    upstream,
    sigward,
    peer,
    tmp: starter.tmp,
    url(contender, repo, rest) {
      switch (contender) {
        case 'direct':
          return `${upstream.url}/v2/${repo}/${rest}`;
        // containerd's shape (hosts.toml mirror): the registry host of the image reference in ?ns=.
        case 'sigward':
          return `${sigward.url}/v2/${repo}/${rest}?ns=${upstream.host}`;
        case 'peer':
          return `${peer.url}/v2/${repo}/${rest}`;
      }
    },
  };
}
