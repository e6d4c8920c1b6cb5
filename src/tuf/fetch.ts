// A TUF-kept trust root's trusted_root.json, through the sigstore project's own TUF client (@sigstore/tuf, on
// tuf-js): from the repository (root rotations, timestamp, snapshot and targets metadata verified as TUF specifies,
// the target checked against its signed length and hashes), or, when the repository cannot be used, from the
// metadata an earlier fetch left in the cache directory, verified again and still unexpired. Never anything else:
// no trust on first use (the initial root.json is pinned in the config or embedded for the public-good URL), no
// unverified file.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import type * as SigstoreTuf from '@sigstore/tuf';
import { lastGoodCachePath, readTufCacheState, repositoryCacheDir, type TufRoot } from '../config/tuf.ts';

/** The TUF client, loaded when a TUF root is first fetched: configs without one (and every CLI command) do not pay
 * for loading it. */
const loadTuf = (): Promise<typeof SigstoreTuf> => import('@sigstore/tuf');

const TARGET = 'trusted_root.json';

export interface TufClientOptions {
  /** Retries of each metadata or target download (default @sigstore/tuf's: 2, with backoff). */
  readonly retry?: number | false;
  /** Per request, in milliseconds (default @sigstore/tuf's: 5 s). */
  readonly timeoutMs?: number;
}

/** Update the TUF metadata from the repository and return the verified trusted_root.json target. */
export async function fetchFromRepository(root: TufRoot, opts: TufClientOptions = {}): Promise<string> {
  const { initTUF } = await loadTuf();
  const tuf = await initTUF({
    mirrorURL: root.url,
    cachePath: root.cacheDir,
    ...(root.rootFile === undefined ? {} : { rootPath: root.rootFile }),
    forceCache: false,
    ...(opts.retry === undefined ? {} : { retry: opts.retry }),
    ...(opts.timeoutMs === undefined ? {} : { timeout: opts.timeoutMs }),
  });
  return tuf.getTarget(TARGET);
}

/** The trusted_root.json of the TUF state the last successful fetch left (config/tuf.ts: last-good), verified by the
 * TUF client without contacting the repository (its forceCache mode), and when it was fetched. Throws when there is
 * no such state or it has expired. */
export async function loadFromCache(root: TufRoot): Promise<{ text: string; fetchedAt: Date }> {
  const cachePath = lastGoodCachePath(root);
  const dir = repositoryCacheDir(root, cachePath);
  const timestampFile = join(dir, 'timestamp.json');
  let expires: unknown;
  try {
    const ts = JSON.parse(readFileSync(timestampFile, 'utf8')) as { signed?: { expires?: unknown } };
    expires = ts.signed?.expires;
  } catch {
    throw new Error(`no TUF metadata from an earlier fetch in ${dir}`);
  }
  // The client would find this too, and then try the repository: say it plainly instead.
  if (typeof expires === 'string' && !(Date.parse(expires) > Date.now())) {
    throw new Error(`the cached TUF metadata in ${dir} expired at ${expires}`);
  }
  const { initTUF } = await loadTuf();
  const tuf = await initTUF({
    mirrorURL: root.url,
    cachePath,
    ...(root.rootFile === undefined ? {} : { rootPath: root.rootFile }),
    forceCache: true,
    retry: false,
  });
  const text = await tuf.getTarget(TARGET);
  const fetchedAt = readTufCacheState(root)?.fetchedAt ?? statSync(timestampFile).mtime;
  return { text, fetchedAt };
}

/** An error and its causes on one line (`error refreshing TUF metadata: fetch failed: connect ECONNREFUSED …`). */
export function describeError(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 6; depth++) {
    const msg = cur instanceof Error ? cur.message : typeof cur === 'string' ? cur : inspect(cur);
    if (msg !== '' && !parts.some((p) => p.includes(msg))) parts.push(msg);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(': ').replaceAll(/\s*\n\s*/g, ' ');
}
