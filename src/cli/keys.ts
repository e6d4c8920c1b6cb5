// `sigward generate-key-pair` and `sigward public-key`: cosign's key files, made and read without cosign.
// Exit codes: 0 done, 2 a usage or input error (one line on stderr), 130 Ctrl-C at the password prompt.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  linkSync,
  lstatSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  fchmodSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SigwardError, isSigwardError } from '../errors.ts';
import { checkCosignKey, decryptCosignKey, encryptCosignKey } from '../sign/encrypted-key.ts';
import { publicKeyPem } from '../sign/signer.ts';
import { parsePublicKey } from '../verify/keys.ts';
import { parseFlags } from './flags.ts';
import type { Io } from './io.ts';
import { PromptInterrupted, keyPassword, processTerminal, type Terminal } from './password.ts';

export const GENERATE_USAGE = `usage: sigward generate-key-pair [--output-key-prefix PREFIX] [--force]

Generates an ECDSA P-256 key pair, as \`cosign generate-key-pair\` does:
  PREFIX.key   the private key, encrypted with a password (ENCRYPTED SIGSTORE PRIVATE KEY, scrypt N=65536), mode 0600
  PREFIX.pub   the public key (PEM PUBLIC KEY): what sigward's trust.keys and \`cosign verify --key\` take
PREFIX defaults to cosign (cosign.key, cosign.pub in the current directory).

options:
  --output-key-prefix PREFIX   where to write the two files
  --force                      overwrite existing files (without it, an existing file is an error)

The password is COSIGN_PASSWORD when it is set (COSIGN_PASSWORD= means the empty password); otherwise it is asked
twice on the terminal, without echo. Both files are written to temporary files first and then renamed into place.
Exits 0 when both files are written, 2 on a usage or input error, 130 when the prompt is interrupted.`;

export const PUBLIC_KEY_USAGE = `usage: sigward public-key --key FILE

Prints the public key (PEM PUBLIC KEY) of FILE: a cosign private key (cosign.key, either PEM label), decrypted with
COSIGN_PASSWORD when it is set and otherwise with a password asked on the terminal; or a PUBLIC KEY file (cosign.pub),
checked and printed as is. Exits 0 when the key is printed, 2 on a usage or input error (wrong password included),
130 when the prompt is interrupted.`;

/** Key files are a few KB; this bounds what is read from a path given by mistake. */
const MAX_KEY_FILE_BYTES = 1024 * 1024;

export async function generateKeyPairCommand(
  argv: readonly string[],
  io: Io,
  term: () => Terminal = io.terminal ?? processTerminal,
): Promise<number> {
  return guarded('generate-key-pair', io, async () => {
    const flags = parseFlags(
      argv,
      { 'output-key-prefix': 'string', force: 'boolean', help: 'boolean' },
      hint('generate-key-pair'),
    );
    if (flags.help) {
      io.out(GENERATE_USAGE);
      return 0;
    }
    if (flags._.length > 0) throw usage(`unexpected argument '${flags._[0]}'`, 'generate-key-pair');
    const prefix = typeof flags['output-key-prefix'] === 'string' ? flags['output-key-prefix'] : 'cosign';
    if (prefix === '' || prefix.endsWith('/'))
      throw usage('--output-key-prefix needs a file name prefix', 'generate-key-pair');
    const keyFile = `${prefix}.key`;
    const pubFile = `${prefix}.pub`;
    const force = flags.force === true;
    // Everything that can be refused is refused before the password is asked.
    checkDirectory(keyFile);
    const keyExists = checkTarget(keyFile, force);
    checkTarget(pubFile, force);

    const password = await askPassword(io, true, term);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyPem = encryptCosignKey(privateKey, password);
    writePair(
      { file: keyFile, text: keyPem, mode: 0o600, replaces: keyExists },
      { file: pubFile, text: publicKeyPem(privateKey), mode: 0o644 },
      force,
    );
    io.out(`Private key written to ${keyFile} (ECDSA P-256, encrypted, mode 0600)`);
    io.out(`Public key written to ${pubFile}`);
    return 0;
  });
}

export async function publicKeyCommand(
  argv: readonly string[],
  io: Io,
  term: () => Terminal = io.terminal ?? processTerminal,
): Promise<number> {
  return guarded('public-key', io, async () => {
    const flags = parseFlags(argv, { key: 'string', help: 'boolean' }, hint('public-key'));
    if (flags.help) {
      io.out(PUBLIC_KEY_USAGE);
      return 0;
    }
    if (flags._.length > 0) throw usage(`unexpected argument '${flags._[0]}'`, 'public-key');
    const file = flags.key;
    if (typeof file !== 'string' || file === '') throw usage('--key FILE is required', 'public-key');
    const text = readKeyFile(file);
    if (/-----BEGIN PUBLIC KEY-----/.test(text)) {
      let pem: string;
      try {
        pem = publicKeyPem(parsePublicKey(file, text).key);
      } catch (e) {
        // parsePublicKey speaks of a trusted key in a config; here the file name says enough.
        if (isSigwardError(e))
          throw new SigwardError('KEY_INVALID', `${file}: ${e.message.replace(/^trusted key "[^"]*": /, '')}`);
        throw e;
      }
      io.out(pem.trimEnd());
      return 0;
    }
    inFile(file, () => checkCosignKey(text));
    const password = await askPassword(io, false, term);
    const key = inFile(file, () => decryptCosignKey(text, password));
    io.out(publicKeyPem(key).trimEnd());
    return 0;
  });
}

/** COSIGN_PASSWORD, else the terminal (keyPassword refuses when there is none: standard input that is not a terminal
 * is never read as the password, so a password piped in by accident, newline included, cannot make a key nobody can
 * open). */
function askPassword(io: Io, confirm: boolean, term: () => Terminal): Promise<string> {
  return keyPassword(io, { confirm }, term);
}

// --- errors and exit codes ---

async function guarded(command: string, io: Io, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof PromptInterrupted) {
      io.err(`sigward ${command}: interrupted`);
      return 130;
    }
    const message = e instanceof Error ? e.message : String(e);
    // One line: parseFlags appends its hint on a new line.
    io.err(
      `sigward ${command}: ${message
        .split('\n')
        .filter((l) => l.trim() !== '')
        .join('; ')}`,
    );
    return isSigwardError(e) ? 2 : 70;
  }
}

function hint(command: string): string {
  return `\`sigward ${command} --help\` shows the usage`;
}

function usage(what: string, command: string): SigwardError {
  return new SigwardError('CONFIG_INVALID', `${what}; ${hint(command)}`);
}

function inFile<T>(file: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isSigwardError(e)) throw new SigwardError(e.code, `${file}: ${e.message}`, { cause: e });
    throw e;
  }
}

// --- files ---

function fsError(what: string, e: unknown): SigwardError {
  const err = e as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'it is a directory',
    ENOTDIR: 'a part of the path is not a directory',
    ENOSPC: 'no space left on the device',
    EROFS: 'read-only file system',
    EEXIST: 'it already exists',
  };
  return new SigwardError('STORE_FAILED', `${what}: ${why[err.code ?? ''] ?? err.message}`, { cause: e });
}

function readKeyFile(file: string): string {
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw new SigwardError('KEY_INVALID', `${file} is a directory, not a key file`);
    if (st.size > MAX_KEY_FILE_BYTES) {
      throw new SigwardError('KEY_INVALID', `${file} is ${st.size} bytes, far too large for a key file (a few KB)`);
    }
    return readFileSync(file, 'utf8');
  } catch (e) {
    if (isSigwardError(e)) throw e;
    throw fsError(`cannot read ${file}`, e);
  }
}

function checkDirectory(file: string): void {
  const dir = dirname(file);
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    throw fsError(`cannot write ${file}: directory ${dir}`, e);
  }
  if (!st.isDirectory()) throw new SigwardError('CONFIG_INVALID', `cannot write ${file}: ${dir} is not a directory`);
}

/** Whether `file` exists; refuses a directory, and an existing file unless forced. */
function checkTarget(file: string, force: boolean): boolean {
  let st;
  try {
    st = lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw fsError(`cannot write ${file}`, e);
  }
  if (st.isDirectory()) throw new SigwardError('CONFIG_INVALID', `cannot write ${file}: it is a directory`);
  if (!force) throw new SigwardError('CONFIG_INVALID', `${file} already exists; pass --force to overwrite it`);
  return true;
}

interface Output {
  readonly file: string;
  readonly text: string;
  readonly mode: number;
  readonly replaces?: boolean;
}

function tempName(file: string, tag: string): string {
  return join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.${tag}`);
}

function writeTemp(out: Output): string {
  const tmp = tempName(out.file, 'tmp');
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', out.mode);
    // The key's mode must not depend on the umask's group and other bits, nor on a wider mode kept by a filesystem.
    if (out.mode === 0o600) fchmodSync(fd, 0o600);
    writeSync(fd, out.text);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    return tmp;
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    removeQuietly(tmp);
    throw fsError(`cannot write ${out.file}`, e);
  }
}

/** Both files appear whole or not at all: each is written to a temporary file in its directory and renamed into
 * place (without --force, linked, which fails if the file appeared meanwhile); if the second cannot be placed, the
 * first is put back as it was. */
function writePair(key: Output, pub: Output, force: boolean): void {
  const tmpKey = writeTemp(key);
  let tmpPub: string;
  try {
    tmpPub = writeTemp(pub);
  } catch (e) {
    removeQuietly(tmpKey);
    throw e;
  }
  // A hard link to the key being replaced, so it can be restored if the .pub cannot be placed.
  let backup: string | undefined;
  if (key.replaces) {
    backup = tempName(key.file, 'old');
    try {
      linkSync(key.file, backup);
    } catch {
      backup = undefined;
    }
  }
  try {
    place(tmpKey, key.file, force);
  } catch (e) {
    removeQuietly(tmpKey, tmpPub, backup);
    throw fsError(`cannot write ${key.file}`, e);
  }
  try {
    place(tmpPub, pub.file, force);
  } catch (e) {
    removeQuietly(tmpPub);
    let keyState: string;
    if (backup !== undefined) {
      try {
        renameSync(backup, key.file);
        keyState = `${key.file} left as it was`;
      } catch {
        keyState = `${key.file} was replaced; its previous content is in ${backup}`;
      }
    } else if (!key.replaces) {
      removeQuietly(key.file);
      keyState = `${key.file} not written`;
    } else {
      keyState = `${key.file} was replaced: generate the pair again`;
    }
    throw fsError(`cannot write ${pub.file} (${keyState})`, e);
  }
  removeQuietly(backup);
  syncDirectory(dirname(key.file));
}

function place(tmp: string, file: string, force: boolean): void {
  if (force) {
    renameSync(tmp, file);
    return;
  }
  try {
    linkSync(tmp, file);
  } catch (e) {
    // EEXIST: the file appeared since it was checked. Other errors: a filesystem without hard links, where a
    // rename after a second look is the best there is.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST' || exists(file)) throw e;
    renameSync(tmp, file);
    return;
  }
  unlinkSync(tmp);
}

function exists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not every filesystem lets a directory be synced; the renames are done either way.
  }
}

function removeQuietly(...files: (string | undefined)[]): void {
  for (const f of files) {
    if (f === undefined) continue;
    try {
      unlinkSync(f);
    } catch {
      // already gone
    }
  }
}
