// Reading a store directory back at start-up (store.ts): the verified files with what their seals vouch for, least
// recently used first, and the debris of earlier runs removed: downloads of processes that are gone, seals whose
// file is gone, and seals half-written when a process stopped.
import { readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isDigest, type Digest } from '../oci/digest.ts';
import { readSeal, type FileIdentity } from './seal.ts';

export interface ScannedFile {
  readonly digest: Digest;
  readonly size: number;
  readonly file: string;
  /** What a valid seal vouches for; undefined when the seal is missing or invalid (re-hash before use). */
  readonly seal: FileIdentity | undefined;
}

const NAME_RE = /^(sha256-[a-f0-9]{64}|sha512-[a-f0-9]{128})$/;

/** Whether a process with this pid exists (signal 0 sends nothing; EPERM: it exists, owned by another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const remove = (f: string): Promise<void> => unlink(f).catch(() => undefined);

export async function scanStore(blobs: string, tmp: string, key: Buffer): Promise<ScannedFile[]> {
  for (const name of await readdir(tmp)) {
    const pid = Number(/^(\d+)-/.exec(name)?.[1]);
    // A file named with this process's own pid is from an earlier life (in a container the daemon is pid 1 every
    // time): nothing of this process is in tmp/ yet when the store is scanned.
    if (!(pid > 0 && pid !== process.pid && processAlive(pid))) await remove(join(tmp, name));
  }
  const found: { f: ScannedFile; lastUse: number }[] = [];
  const names = new Set(await readdir(blobs));
  for (const name of names) {
    if (/\.seal\.[0-9a-f]+$/.test(name) || (name.endsWith('.seal') && !names.has(name.slice(0, -5))))
      await remove(join(blobs, name));
    const digest = name.replace('-', ':');
    if (!NAME_RE.test(name) || !isDigest(digest)) continue;
    const file = join(blobs, name);
    const st = await stat(file, { bigint: true });
    const sealText = await readFile(`${file}.seal`, 'utf8').catch(() => undefined);
    const seal = sealText === undefined ? undefined : readSeal(key, sealText, digest);
    // The seal's mtime records the last use (store.ts touches it on every read).
    const lastUse = await stat(`${file}.seal`).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    found.push({ f: { digest, size: Number(st.size), file, seal }, lastUse });
  }
  return found.sort((a, b) => a.lastUse - b.lastUse).map((x) => x.f);
}
