// The ceiling contenders, each a separate process like sigward, measuring what any node process reaches on this
// machine in the same run, so a figure can say how much of the gap to `direct` is node's and how much is sigward's:
// for blobs a raw node relay in front of the upstream (relay-server.ts; it also relays with sha256 on the way,
// `/sha256/…`, and to a file, `/disk/…`), for manifests the least node proxy (floor-server.ts).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, tailFile } from '../test/helpers/proc.ts';

export interface RelayProcess {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

const RELAY_SERVER = fileURLToPath(new URL('./relay-server.ts', import.meta.url));
const FLOOR_SERVER = fileURLToPath(new URL('./floor-server.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The relay's URL of `/v2/<repo>/<rest>` hashed on the way (sha256, compared with the path's digest): the hashing
 * ceiling. */
export const sha256Url = (relay: RelayProcess, repo: string, rest: string): string =>
  `${relay.url}/sha256/v2/${repo}/${rest}`;

/** The relay's URL that writes the upstream's body to a file and answers an empty 200 once written: the raw relay to
 * disk (the spool half of an sget cold download, without parser or hashing). */
export const diskUrl = (relay: RelayProcess, repo: string, rest: string): string =>
  `${relay.url}/disk/v2/${repo}/${rest}`;

/** The same, hashing the body as it is written and answering 200 only when it matches the path's digest: the spool
 * half of an sget cold download with its one unavoidable check (the hashing ceiling of the spool). */
export const diskSha256Url = (relay: RelayProcess, repo: string, rest: string): string =>
  `${relay.url}/disk-sha256/v2/${repo}/${rest}`;

/** Remove the files the relay to disk kept (it keeps each, as sget's store does, until asked): resolves once gone. */
export async function clearRelayDisk(relay: RelayProcess): Promise<void> {
  const res = await fetch(`${relay.url}/disk-clear`);
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`the relay answered /disk-clear with ${res.status}`);
}

/** Start the relay to `upstreamUrl` (http://127.0.0.1:PORT), logging into `dir`; resolves once it listens. */
export function startRelay(upstreamUrl: string, dir: string): Promise<RelayProcess> {
  return startNodeServer('relay', RELAY_SERVER, [upstreamUrl, dir], dir);
}

/** Start the manifest ceiling (floor-server.ts: node:http + undici asking `upstreamUrl`), logging into `dir`. */
export function startFloor(upstreamUrl: string, dir: string): Promise<RelayProcess> {
  return startNodeServer('floor', FLOOR_SERVER, [upstreamUrl], dir);
}

/** Run `server` as its own node process; resolves once its log says `<name> listening on URL`. */
async function startNodeServer(
  name: string,
  server: string,
  args: readonly string[],
  dir: string,
): Promise<RelayProcess> {
  let url: string | undefined;
  const listening = new RegExp(`${name} listening on (http://127\\.0\\.0\\.1:\\d+)`);
  const proc = await startProcess({
    name,
    cmd: process.execPath,
    // tsx's loader only compiles the file at start; the serving loop runs as plain JavaScript.
    args: ['--import', 'tsx', server, ...args],
    dir,
    cwd: ROOT,
    timeoutMs: 30_000,
    ready: () => {
      url ??= listening.exec(tailFile(join(dir, `${name}.log`), 20))?.[1];
      return Promise.resolve(url !== undefined);
    },
  });
  if (url === undefined) throw new Error(`${name} became ready but its log ${proc.logFile} names no address`);
  return { url, pid: proc.pid, stop: () => proc.stop() };
}
