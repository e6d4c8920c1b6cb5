// Seals for files in the sget store (so tampering on disk is caught). A seal is an
// HMAC-SHA256, under a random key kept next to the store (0600), over the digest and the file's identity as the
// kernel reports it: inode, size, mtime and ctime in nanoseconds. Any write to the file, a replacement by rename,
// or a touch that puts the mtime back changes the ctime, which no unprivileged process can set, so a file whose
// stat no longer matches its seal is re-hashed before a byte of it is served. What a seal cannot see: bit rot
// below the filesystem and a forger who holds the key (who could as well rewrite the store): see README.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';

export interface FileIdentity {
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

export interface SealRecord extends FileIdentity {
  readonly digest: string;
}

const KEY_BYTES = 32;

export function identityOf(st: BigIntStats): FileIdentity {
  return { ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** The store's seal key: created once with 32 random bytes (0600), then read back on every start. */
export async function loadSealKey(file: string): Promise<Buffer> {
  try {
    await writeFile(file, randomBytes(KEY_BYTES), { flag: 'wx', mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const key = await readFile(file);
  if (key.length !== KEY_BYTES) {
    throw new Error(
      `the seal key ${file} holds ${key.length} bytes instead of ${KEY_BYTES}; delete it together with the store's files to start afresh`,
    );
  }
  await chmod(file, 0o600).catch(() => undefined);
  return key;
}

function mac(key: Buffer, r: SealRecord): Buffer {
  return createHmac('sha256', key)
    .update(`sigward-sget-seal-v1\n${r.digest}\n${r.ino}\n${r.size}\n${r.mtimeNs}\n${r.ctimeNs}\n`)
    .digest();
}

/** The seal file's text. Numbers are decimal strings: nanosecond times do not fit a JSON number. */
export function writeSeal(key: Buffer, r: SealRecord): string {
  return `${JSON.stringify({
    v: 1,
    digest: r.digest,
    ino: String(r.ino),
    size: String(r.size),
    mtimeNs: String(r.mtimeNs),
    ctimeNs: String(r.ctimeNs),
    mac: mac(key, r).toString('hex'),
  })}\n`;
}

const DEC = /^\d{1,30}$/;

/** A seal read back from disk, or undefined when it is malformed or its MAC is wrong (the file is then re-hashed). */
export function readSeal(key: Buffer, text: string, digest: string): SealRecord | undefined {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const fields = [o.ino, o.size, o.mtimeNs, o.ctimeNs];
  if (
    o.v !== 1 ||
    o.digest !== digest ||
    typeof o.mac !== 'string' ||
    !fields.every((f) => typeof f === 'string' && DEC.test(f))
  )
    return undefined;
  const r: SealRecord = {
    digest,
    ino: BigInt(o.ino as string),
    size: BigInt(o.size as string),
    mtimeNs: BigInt(o.mtimeNs as string),
    ctimeNs: BigInt(o.ctimeNs as string),
  };
  const want = mac(key, r);
  const got = Buffer.from(o.mac, 'hex');
  return got.length === want.length && timingSafeEqual(got, want) ? r : undefined;
}
