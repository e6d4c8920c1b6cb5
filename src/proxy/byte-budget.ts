// Bytes that signature lookups and artifact proofs may hold in memory at once, across all requests. Each lookup is
// bounded on its own (lookup-bounds.ts, the attachment limits), but a thousand concurrent lookups of different hostile
// `.sig` images would still hold a thousand times that. A lookup or proof takes its whole share before it fetches
// anything and gives it back when done: all-or-nothing, first come first served, so no holder ever waits for more
// (no deadlock) and a big request is not starved by small ones behind it.
export class ByteBudget {
  private used = 0;
  private readonly queue: { readonly n: number; readonly go: () => void }[] = [];

  constructor(readonly capacity: number) {}

  /** Run `fn` holding `n` bytes of the budget (at most the whole budget). */
  async run<T>(n: number, fn: () => Promise<T>): Promise<T> {
    const share = Math.max(0, Math.min(n, this.capacity));
    await this.take(share);
    try {
      return await fn();
    } finally {
      this.give(share);
    }
  }

  /** Bytes taken now, and requests waiting for a share (tests, logs). */
  get inUse(): number {
    return this.used;
  }

  get waiting(): number {
    return this.queue.length;
  }

  private take(n: number): Promise<void> {
    if (this.queue.length === 0 && this.used + n <= this.capacity) {
      this.used += n;
      return Promise.resolve();
    }
    return new Promise((go) => this.queue.push({ n, go }));
  }

  private give(n: number): void {
    this.used -= n;
    for (let next = this.queue[0]; next !== undefined && this.used + next.n <= this.capacity; next = this.queue[0]) {
      this.queue.shift();
      this.used += next.n;
      next.go();
    }
  }
}
