// The ceiling contender: a raw node relay (relay-server.ts) in front of the upstream, as a separate process like
// sigward. It measures what any node relay can reach on this machine in the same run, so a blob figure can say how
// much of the gap to `direct` is node's and how much is sigward's. The same process also relays with sha256 on the way
// (`/sha256/…`) and to a file (`/disk/…`): relay-server.ts.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, tailFile } from '../test/helpers/proc.ts';

export interface RelayProcess {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

const SERVER = fileURLToPath(new URL('./relay-server.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The relay's URL of `/v2/<repo>/<rest>` hashed on the way (sha256, compared with the path's digest): the hashing
 * ceiling. */
export const sha256Url = (relay: RelayProcess, repo: string, rest: string): string =>
  `${relay.url}/sha256/v2/${repo}/${rest}`;

/** The relay's URL that writes the upstream's body to a file and answers an empty 200 once written: the raw relay to
 * disk (the spool half of an sget cold download, without parser or hashing). */
export const diskUrl = (relay: RelayProcess, repo: string, rest: string): string =>
  `${relay.url}/disk/v2/${repo}/${rest}`;

/** Start the relay to `upstreamUrl` (http://127.0.0.1:PORT), logging into `dir`; resolves once it listens. */
export async function startRelay(upstreamUrl: string, dir: string): Promise<RelayProcess> {
  let url: string | undefined;
  const proc = await startProcess({
    name: 'relay',
    cmd: process.execPath,
    // tsx's loader only compiles the file at start; the copy loop runs as plain JavaScript.
    args: ['--import', 'tsx', SERVER, upstreamUrl, dir],
    dir,
    cwd: ROOT,
    timeoutMs: 30_000,
    ready: () => {
      url ??= /relay listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(tailFile(join(dir, 'relay.log'), 20))?.[1];
      return Promise.resolve(url !== undefined);
    },
  });
  if (url === undefined) throw new Error(`relay became ready but its log ${proc.logFile} names no address`);
  return { url, pid: proc.pid, stop: () => proc.stop() };
}
