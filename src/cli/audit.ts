// `sigward audit verify FILE [FILE...]`: check the hash chain of decision log files (oldest first).
import { readFileSync } from 'node:fs';
import { verifyChain, type AuditFile } from '../audit/verify.ts';
import type { Io } from './io.ts';
import { parseFlags, usage } from './flags.ts';
import { EXIT_FAILED, EXIT_OK, exitOnBadInput } from './exit-codes.ts';

export const AUDIT_USAGE = `usage: sigward audit verify FILE [FILE...]

Checks the decision log (config \`audit.file\`) and its rotated files, given oldest first
(e.g. audit.log.2 audit.log.1 audit.log): every line is a JSON object, each seq is one more than the one before,
and each prev is the sha256 of the line before it (its newline included), across the files.
Prints "ok: N lines, chain intact (first seq A, last seq B)" and exits 0, or names the first broken line
(FILE:LINE: bad JSON | seq gap | prev mismatch) and exits 1. Exits 2 on a usage error or an unreadable file.
A line changed in place that is still JSON is reported at the line AFTER it (its prev no longer matches);
the last line has no line after it, so a change to it alone is not detected.`;

export async function auditCommand(argv: readonly string[], io: Io): Promise<number> {
  return exitOnBadInput('audit', io, async () => {
    const flags = parseFlags(argv, { help: 'boolean' }, 'usage: sigward audit verify FILE [FILE...]');
    if (flags.help) {
      io.out(AUDIT_USAGE);
      return EXIT_OK;
    }
    const [sub, ...files] = flags._;
    if (sub !== 'verify')
      throw usage(
        sub === undefined
          ? 'a subcommand is required: verify'
          : `unknown subcommand ${JSON.stringify(sub)}: the one there is is verify`,
      );
    if (files.length === 0) throw usage('audit verify needs at least one FILE (oldest first)');
    const read: AuditFile[] = files.map((name) => {
      try {
        return { name, bytes: readFileSync(name) };
      } catch (e) {
        throw usage(`cannot read ${name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
    const r = verifyChain(read);
    if (!r.ok) {
      io.out(`${r.file}:${r.line}: ${r.problem}`);
      return EXIT_FAILED;
    }
    io.out(
      r.lines === 0
        ? 'ok: 0 lines'
        : `ok: ${r.lines} line${r.lines === 1 ? '' : 's'}, chain intact (first seq ${r.firstSeq}, last seq ${r.lastSeq})`,
    );
    return EXIT_OK;
  });
}
