// Exit codes of the registry commands (sign, save, load): 0 done; 2 the command cannot work as given (a bad or missing
// option or argument, a key file that is missing or will not open with the password, an unusable config or layout),
// so nothing was contacted or written; 1 the registry side failed (image not found, push refused, registry
// unreachable, bytes that do not match their digest). Either way one line on stderr says why. main.ts prints the
// message of an error that propagates and exits 1; the bad-input ones are caught here. 130: Ctrl-C at the password
// prompt.
import { isSigwardError, type ErrorCode } from '../errors.ts';
import type { Io } from './io.ts';
import { PromptInterrupted } from './password.ts';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_BAD_INPUT = 2;
/** Ctrl-C at the password prompt (128 + SIGINT, as shells report it). */
export const EXIT_INTERRUPTED = 130;

const BAD_INPUT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'CONFIG_INVALID',
  'KEY_INVALID',
  'NAME_INVALID',
  'TAG_INVALID',
  'DIGEST_INVALID',
]);

/** Run a command body; a bad-input error becomes one line on stderr (the usage is left to --help) and exit 2.
 * Commands give parseFlags a one-line hint rather than their usage, so the line stays short. */
export async function exitOnBadInput(command: string, io: Io, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof PromptInterrupted) {
      io.err(`sigward ${command}: interrupted`);
      return EXIT_INTERRUPTED;
    }
    if (!isSigwardError(e) || !BAD_INPUT.has(e.code)) throw e;
    const line = e.message
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '')
      .join('; ');
    io.err(
      `sigward ${command}: ${line}${line.includes('--help') ? '' : ` (sigward ${command} --help shows the usage)`}`,
    );
    return EXIT_BAD_INPUT;
  }
}
