// `sigward generate-key-pair`, `sigward public-key` and `sigward --version`: end to end as the `sigward` process
// (bin/sigward.mjs: the keys written, exit codes, stdout and stderr apart, standard input that is not a terminal), on
// a real terminal through util-linux `script` where one is needed, through src/main.ts in process for the refusals
// and usage errors, and with an injected terminal for the paths that stop before a key is made. Each generate or decrypt at cosign's N=65536 costs
// ~150 ms of scrypt, so those runs are few.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkCosignKey, decryptCosignKey, SIGSTORE_KEY_LABEL } from '../../src/sign/encrypted-key.ts';
import { publicKeyPem, signBytes } from '../../src/sign/signer.ts';
import { parsePublicKey } from '../../src/verify/keys.ts';
import { verifyMessage } from '../../src/verify/signature-bytes.ts';
import { generateKeyPairCommand, publicKeyCommand } from '../../src/cli/keys.ts';
import { PromptInterrupted, type Terminal } from '../../src/cli/password.ts';
import type { Io } from '../../src/cli/io.ts';
import { sigwardInProcess } from '../helpers/cli-process.ts';
import { removeTempDir, runCommand, tempDir, type CommandResult } from '../helpers/proc.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'sigward.mjs');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'encrypted-keys');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const dir = tempDir('keys');
after(() => removeTempDir(dir));

/** The process environment without COSIGN_PASSWORD, plus `extra`. */
function envWith(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('COSIGN_PASSWORD' in extra)) delete env.COSIGN_PASSWORD;
  return env;
}

/** `sigward ARGS` with stdin from /dev/null (not a terminal). */
function sigward(args: string[], extra: Record<string, string> = {}): Promise<CommandResult> {
  return runCommand(process.execPath, [BIN, ...args], { env: envWith(extra), cwd: dir, timeoutMs: 60_000 });
}

/** `sigward ARGS` through src/main.ts in this process (no terminal; every path these tests give is absolute). */
function inProcess(args: string[], extra: Record<string, string> = {}): Promise<CommandResult> {
  return sigwardInProcess(args, { env: extra });
}

/** Exit 2 with exactly one line on stderr, no stack trace; the line is returned. */
function oneLineError(r: CommandResult, code = 2): string {
  assert.equal(r.code, code, `exit ${r.code}: ${r.stdout}${r.stderr}`);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one line on stderr: ${JSON.stringify(r.stderr)}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  return lines[0] ?? '';
}

function signsAndVerifies(keyPem: string, password: string, pubPem: string): void {
  const key = decryptCosignKey(keyPem, password);
  const message = new TextEncoder().encode('payload');
  const trusted = parsePublicKey('generated', pubPem);
  assert.ok(verifyMessage(trusted, message, signBytes(key, message)) !== undefined);
}

describe('sigward generate-key-pair and public-key', () => {
  const prefix = join(dir, 'release');
  let firstKey = '';
  let firstPub = '';

  test('writes PREFIX.key (encrypted, 0600) and PREFIX.pub; the key signs what the .pub verifies', async () => {
    const r = await sigward(['generate-key-pair', '--output-key-prefix', prefix], { COSIGN_PASSWORD: 'hunter2' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^Private key written to .*release\.key .*\nPublic key written to .*release\.pub\n$/);
    assert.equal(statSync(`${prefix}.key`).mode & 0o777, 0o600);
    firstKey = readFileSync(`${prefix}.key`, 'utf8');
    firstPub = readFileSync(`${prefix}.pub`, 'utf8');
    assert.deepEqual(checkCosignKey(firstKey), { label: SIGSTORE_KEY_LABEL, scryptN: 65536 });
    const pub = parsePublicKey('generated', firstPub);
    assert.equal(pub.algorithm, 'ecdsa-p256');
    signsAndVerifies(firstKey, 'hunter2', firstPub);
    // No temporary file is left behind.
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith('.')),
      [],
    );
  });

  test('refuses to overwrite without --force (exit 2, naming the file), and changes nothing', async () => {
    const r = await inProcess(['generate-key-pair', '--output-key-prefix', prefix], { COSIGN_PASSWORD: 'x' });
    assert.match(
      oneLineError(r),
      /^sigward generate-key-pair: .*release\.key already exists; pass --force to overwrite it$/,
    );
    assert.equal(readFileSync(`${prefix}.key`, 'utf8'), firstKey);
    assert.equal(readFileSync(`${prefix}.pub`, 'utf8'), firstPub);
  });

  test('an existing .pub alone also stops it', async () => {
    const p = join(dir, 'only-pub');
    writeFileSync(`${p}.pub`, 'keep me');
    const r = await inProcess(['generate-key-pair', '--output-key-prefix', p], { COSIGN_PASSWORD: 'x' });
    assert.match(oneLineError(r), /only-pub\.pub already exists; pass --force to overwrite it$/);
    assert.equal(existsSync(`${p}.key`), false);
    assert.equal(readFileSync(`${p}.pub`, 'utf8'), 'keep me');
  });

  test('public-key prints the .pub of the key (COSIGN_PASSWORD), and of the .pub itself', async () => {
    const fromKey = await sigward(['public-key', '--key', `${prefix}.key`], { COSIGN_PASSWORD: 'hunter2' });
    assert.equal(fromKey.code, 0, fromKey.stderr);
    assert.equal(fromKey.stdout, firstPub);
    const fromPub = await sigward(['public-key', '--key', `${prefix}.pub`]);
    assert.equal(fromPub.code, 0, fromPub.stderr);
    assert.equal(fromPub.stdout, firstPub);
  });

  test('public-key with a wrong password: exit 2, one line', async () => {
    const r = await sigward(['public-key', '--key', `${prefix}.key`], { COSIGN_PASSWORD: 'hunter3' });
    assert.match(oneLineError(r), /^sigward public-key: .*release\.key: wrong password, or the key is corrupted$/);
  });

  test('--force overwrites both files with a new pair, the key still 0600', async () => {
    const r = await sigward(['generate-key-pair', '--output-key-prefix', prefix, '--force'], { COSIGN_PASSWORD: '' });
    assert.equal(r.code, 0, r.stderr);
    const key = readFileSync(`${prefix}.key`, 'utf8');
    const pub = readFileSync(`${prefix}.pub`, 'utf8');
    assert.notEqual(key, firstKey);
    assert.notEqual(pub, firstPub);
    assert.equal(statSync(`${prefix}.key`).mode & 0o777, 0o600);
    // COSIGN_PASSWORD= is the empty password, as cosign has it.
    signsAndVerifies(key, '', pub);
  });

  test('no terminal and no COSIGN_PASSWORD: exit 2 saying to set it; nothing written', async () => {
    const p = join(dir, 'no-tty');
    const r = await sigward(['generate-key-pair', '--output-key-prefix', p]);
    assert.match(
      oneLineError(r),
      /^sigward generate-key-pair: no password: COSIGN_PASSWORD is not set and standard input is not a terminal .*set COSIGN_PASSWORD/,
    );
    assert.equal(existsSync(`${p}.key`) || existsSync(`${p}.pub`), false);
    const pk = await sigward(['public-key', '--key', join(FIXTURES, 'cosign-keys_test-sigstore.key')]);
    assert.match(oneLineError(pk), /^sigward public-key: no password: .*set COSIGN_PASSWORD/);
  });

  test('public-key reads cosign v1 keys and refuses what is not a cosign key, before asking for a password', async () => {
    const v1 = await inProcess(['public-key', '--key', join(FIXTURES, 'policy-controller-example.cosign.key')], {
      COSIGN_PASSWORD: '',
    });
    assert.equal(v1.code, 0, v1.stderr);
    assert.equal(v1.stdout, readFileSync(join(FIXTURES, 'policy-controller-example.cosign.pub'), 'utf8'));
    const plain = join(dir, 'plain.pem');
    writeFileSync(plain, '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n');
    // No COSIGN_PASSWORD and no terminal: had it asked first, the message would be about the password.
    const r = await inProcess(['public-key', '--key', plain]);
    assert.match(
      oneLineError(r),
      /^sigward public-key: .*plain\.pem: this is an unencrypted EC PRIVATE KEY; cosign expects an encrypted key .*cosign import-key-pair/,
    );
    const missing = await inProcess(['public-key', '--key', join(dir, 'nope.key')]);
    assert.match(oneLineError(missing), /^sigward public-key: cannot read .*nope\.key: no such file or directory$/);
  });

  test('usage errors are one line and exit 2; --help prints the usage and exits 0', async () => {
    assert.match(
      oneLineError(await inProcess(['generate-key-pair', '--prefix', 'x'])),
      /^sigward generate-key-pair: unknown option --prefix; `sigward generate-key-pair --help` shows the usage$/,
    );
    assert.match(
      oneLineError(await inProcess(['generate-key-pair', 'extra'])),
      /^sigward generate-key-pair: unexpected argument 'extra'/,
    );
    assert.match(oneLineError(await inProcess(['public-key'])), /^sigward public-key: --key FILE is required/);
    assert.match(
      oneLineError(await inProcess(['public-key', '--key'])),
      /^sigward public-key: option --key needs a value/,
    );
    for (const cmd of ['generate-key-pair', 'public-key', 'version']) {
      const h = await inProcess([cmd, '--help']);
      assert.equal(h.code, 0, h.stderr);
      assert.ok(h.stdout.startsWith(`usage: sigward ${cmd}`), h.stdout);
    }
  });
});

describe('sigward --version', () => {
  test('--version and version print the version of package.json', async () => {
    for (const args of [['--version'], ['version']]) {
      const r = await sigward(args);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `sigward ${VERSION}\n`);
    }
    assert.match(oneLineError(await sigward(['version', 'x'])), /^sigward version: unexpected argument 'x'/);
  });
});

// A real terminal: util-linux `script` runs sigward on a pseudo-terminal fed from our pipe.

/** Run sigward under `script`; `answers` are typed, each after the prompt it answers appears. */
function onTerminal(args: string[], answers: string[]): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { cwd: dir, env: envWith() });
  let output = '';
  let prompts = 0;
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString('utf8');
    const seen = output.split('Enter password for private key').length - 1;
    while (prompts < seen && prompts < answers.length) child.stdin.write(answers[prompts++] ?? '');
  });
  child.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
}

// script(1) comes with util-linux (Debian's essential bsdutils package), on every machine these tests run on.
describe('the password prompt on a terminal', () => {
  test('asked twice without echo; the key opens with what was typed', { timeout: 60_000 }, async () => {
    const p = join(dir, 'typed');
    const r = await onTerminal(['generate-key-pair', '--output-key-prefix', p], ['s3cr3t-typed\r', 's3cr3t-typed\r']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /Enter password for private key: [\s\S]*Enter password for private key again: /);
    assert.doesNotMatch(r.output, /s3cr3t/, 'the password is not echoed');
    signsAndVerifies(readFileSync(`${p}.key`, 'utf8'), 's3cr3t-typed', readFileSync(`${p}.pub`, 'utf8'));
  });

  test('two different passwords: exit 2, nothing written', { timeout: 60_000 }, async () => {
    const p = join(dir, 'mismatch');
    const r = await onTerminal(['generate-key-pair', '--output-key-prefix', p], ['one\r', 'two\r']);
    assert.equal(r.code, 2, r.output);
    assert.match(r.output, /sigward generate-key-pair: passwords do not match/);
    assert.equal(existsSync(`${p}.key`) || existsSync(`${p}.pub`), false);
  });

  test('Ctrl-C at the prompt: exit 130, nothing written', { timeout: 60_000 }, async () => {
    const p = join(dir, 'interrupted');
    const r = await onTerminal(['generate-key-pair', '--output-key-prefix', p], ['\u0003']);
    assert.equal(r.code, 130, r.output);
    assert.equal(existsSync(`${p}.key`) || existsSync(`${p}.pub`), false);
  });
});

describe('in process, with an injected terminal', () => {
  function capture(env: Record<string, string | undefined> = {}): Io & { outs: string[]; errs: string[] } {
    const outs: string[] = [];
    const errs: string[] = [];
    return { outs, errs, out: (l) => outs.push(l), err: (l) => errs.push(l), env };
  }
  /** A terminal that answers prompts from `answers` (PromptInterrupted for null), recording each prompt. */
  function terminal(answers: (string | null)[], prompts: string[] = []): () => Terminal {
    return () => ({
      interactive: true,
      readHidden: (prompt) => {
        prompts.push(prompt);
        const a = answers.shift();
        return a === null || a === undefined ? Promise.reject(new PromptInterrupted()) : Promise.resolve(a);
      },
      readAll: () => Promise.reject(new Error('stdin must not be read')),
    });
  }

  test('refusals that need no key come before the password prompt', async () => {
    const prompts: string[] = [];
    const cases: [string[], RegExp][] = [
      [['--output-key-prefix', join(dir, 'no-such-dir', 'k')], /directory .*no-such-dir: no such file or directory$/],
      [['--output-key-prefix', `${dir}/`], /--output-key-prefix needs a file name prefix/],
    ];
    mkdirSync(join(dir, 'a-dir.key'));
    cases.push([['--output-key-prefix', join(dir, 'a-dir')], /a-dir\.key: it is a directory$/]);
    for (const [args, why] of cases) {
      const io = capture();
      assert.equal(await generateKeyPairCommand(args, io, terminal(['x'], prompts)), 2);
      assert.equal(io.errs.length, 1);
      assert.match(io.errs[0] ?? '', why);
    }
    const io = capture();
    const bad = join(FIXTURES, 'cosign-keys_test-ec-sec1.cosign.key');
    writeFileSync(join(dir, 'garbled.key'), readFileSync(bad, 'utf8').replace('LCJj', 'LC*j'));
    assert.equal(await publicKeyCommand(['--key', join(dir, 'garbled.key')], io, terminal(['x'], prompts)), 2);
    assert.match(io.errs[0] ?? '', /garbled\.key: the key is garbled: its PEM body is not standard base64/);
    assert.deepEqual(prompts, [], 'no password was asked for');
  });

  test('a prompt interrupted: 130; passwords that differ: 2; nothing written either way', async () => {
    const p = join(dir, 'in-process');
    const io = capture();
    assert.equal(await generateKeyPairCommand(['--output-key-prefix', p], io, terminal([null])), 130);
    assert.deepEqual(io.errs, ['sigward generate-key-pair: interrupted']);
    const io2 = capture();
    const prompts: string[] = [];
    assert.equal(await generateKeyPairCommand(['--output-key-prefix', p], io2, terminal(['a', 'b'], prompts)), 2);
    assert.deepEqual(io2.errs, ['sigward generate-key-pair: passwords do not match']);
    assert.deepEqual(prompts, ['Enter password for private key: ', 'Enter password for private key again: ']);
    assert.equal(existsSync(`${p}.key`) || existsSync(`${p}.pub`), false);
  });

  test('public-key asks once on a terminal and prints the key', async () => {
    const prompts: string[] = [];
    const io = capture();
    const key = join(FIXTURES, 'cosign-keys_test-sigstore.key');
    assert.equal(await publicKeyCommand(['--key', key], io, terminal(['hello'], prompts)), 0, io.errs.join('\n'));
    assert.deepEqual(prompts, ['Enter password for private key: ']);
    assert.equal(`${io.outs.join('\n')}\n`, publicKeyPem(decryptCosignKey(readFileSync(key, 'utf8'), 'hello')));
  });
});
