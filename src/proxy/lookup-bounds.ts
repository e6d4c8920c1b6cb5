// What one signature lookup may cost, whatever the `.sig` image or referrers list it meets says: how many upstream
// fetches run at once (FetchPool), how many distinct signatures are read and verified and how many bytes are read
// (LookupBudget), and the signatures left unread because of a cap, reported as a few grouped lines (SkipLog) rather
// than one entry each. One instance of each per lookup: nothing here is shared between lookups.
import { SigwardError } from '../errors.ts';

/** Runs at most `max` upstream fetches at a time; a queued fetch gets the slot of the one that finished (FIFO). Once
 * `signal` is aborted (the lookup failed, or was decided without the rest), queued fetches are refused instead of
 * started. */
export class FetchPool {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly max: number,
    private readonly signal: { readonly aborted: boolean },
  ) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active < this.max) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      if (this.signal.aborted)
        throw new SigwardError(
          'VERIFY_UNAVAILABLE',
          'signature lookup abandoned: an earlier fetch of the same lookup failed',
        );
      return await fn();
    } finally {
      // Hand the slot straight to the next queued fetch, so a newcomer cannot overtake it.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** Signature slots and bytes left in one lookup. Reservations are made in a fixed order (legacy layers in manifest
 * order, then referrers in list order), so which signatures fit does not depend on upstream timing. */
export class LookupBudget {
  signaturesLeft: number;
  bytesLeft: number;

  constructor(signatures: number, bytes: number) {
    this.signaturesLeft = signatures;
    this.bytesLeft = bytes;
  }

  takeSignature(): boolean {
    if (this.signaturesLeft <= 0) return false;
    this.signaturesLeft--;
    return true;
  }

  refundSignature(): void {
    this.signaturesLeft++;
  }

  /** Reserve `n` bytes (a descriptor's declared size) if they fit. */
  takeBytes(n: number): boolean {
    if (n > this.bytesLeft) return false;
    this.bytesLeft -= n;
    return true;
  }

  /** Charge bytes read beyond what was reserved (a descriptor that understated its size). May overdraw. */
  charge(n: number): void {
    this.bytesLeft -= n;
  }

  /** Over budget through understated sizes: fetches not yet started are skipped. */
  get overdrawn(): boolean {
    return this.bytesLeft < 0;
  }
}

export type SkipCause = 'signatures' | 'bytes';

/** Signatures left unread by a cap, grouped per (where they were listed, cap): one unreadable entry per group. */
export class SkipLog {
  private readonly groups = new Map<string, { source: string; cause: SkipCause; count: number; first: string }>();

  constructor(private readonly limitText: Readonly<Record<SkipCause, string>>) {}

  add(source: string, cause: SkipCause, where: string): void {
    const key = `${cause}\n${source}`;
    const g = this.groups.get(key);
    if (g) g.count++;
    else this.groups.set(key, { source, cause, count: 1, first: where });
  }

  entries(): { source: string; message: string; overLimit: true }[] {
    return [...this.groups.values()].map((g) => ({
      source: g.source,
      overLimit: true as const,
      message: `${g.count} signature${g.count === 1 ? '' : 's'} not read (the first: ${g.first}): ${this.limitText[g.cause]}`,
    }));
  }
}

/** A promise with its resolve function: lets the bundle path wait until the legacy path has made its reservations. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
