// The password of a cosign key, found the way cosign finds it (cmd/cosign/cli/generate/generate_key_pair.go,
// readPasswordFn; pkg/cosign/common.go): COSIGN_PASSWORD when it is set, even to the empty string; else a prompt on
// the terminal without echo (asked twice when a key is created: "passwords do not match" otherwise). Unlike cosign,
// standard input that is not a terminal is not read as the password (a password piped in by accident, newline
// included, makes a key nobody can open): without a terminal, COSIGN_PASSWORD is required. The terminal is injected
// so the prompts can be tested without one.
import { SigwardError } from '../errors.ts';
import type { Io } from './io.ts';

/** Ctrl-C (or Ctrl-D on an empty line) at a prompt: the command stops without doing anything. */
export class PromptInterrupted extends Error {
  constructor() {
    super('the password prompt was interrupted');
    this.name = 'PromptInterrupted';
  }
}

export interface Terminal {
  /** Whether standard input is a terminal a person can type a password on. */
  readonly interactive: boolean;
  /** Show `prompt` on stderr and read one line without echo. Rejects with PromptInterrupted on Ctrl-C. */
  readHidden(prompt: string): Promise<string>;
  /** All of standard input (when it is not a terminal). */
  readAll(): Promise<string>;
}

export const PASSWORD_PROMPT = 'Enter password for private key: ';
export const PASSWORD_AGAIN_PROMPT = 'Enter password for private key again: ';

/** The password for a key: COSIGN_PASSWORD, else the terminal (twice with `confirm`). */
export async function keyPassword(
  io: Io,
  opts: { readonly confirm: boolean },
  term: () => Terminal = io.terminal ?? processTerminal,
): Promise<string> {
  const fromEnv = io.env.COSIGN_PASSWORD;
  if (fromEnv !== undefined) return fromEnv;
  const t = term();
  if (!t.interactive) {
    throw new SigwardError(
      'CONFIG_INVALID',
      'no password: COSIGN_PASSWORD is not set and standard input is not a terminal to ask on; ' +
        'set COSIGN_PASSWORD (COSIGN_PASSWORD= for an empty password)',
    );
  }
  const first = await t.readHidden(PASSWORD_PROMPT);
  if (!opts.confirm) return first;
  const again = await t.readHidden(PASSWORD_AGAIN_PROMPT);
  if (again !== first) throw new SigwardError('CONFIG_INVALID', 'passwords do not match');
  return first;
}

/** The process's own standard input and error. */
export function processTerminal(): Terminal {
  const stdin = process.stdin;
  return {
    interactive: stdin.isTTY === true,
    readHidden: (prompt) => promptHidden(stdin, prompt),
    readAll: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

/** One line from the terminal in raw mode, echoing nothing; backspace edits, Enter ends it. */
function promptHidden(stdin: NodeJS.ReadStream, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let typed = '';
    const done = (error?: Error): void => {
      stdin.removeListener('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error !== undefined) reject(error);
      else resolve(typed);
    };
    const onData = (data: Buffer): void => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003' || (ch === '\u0004' && typed === '')) return done(new PromptInterrupted());
        if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
        else typed += ch;
      }
    };
    stdin.setRawMode(true);
    // Echo is off before the prompt shows: whatever is typed once it is visible is never echoed.
    process.stderr.write(prompt);
    stdin.resume();
    stdin.on('data', onData);
  });
}
