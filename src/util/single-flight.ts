// N concurrent callers for one key share one in-flight promise. Failures are not remembered: the next call after
// a failure starts afresh (upstream failures are never cached).
export class SingleFlight<T> {
  private readonly inflight = new Map<string, Promise<T>>();
  /** How many times `fn` actually ran (tests and the benchmark count coalescing with it). */
  calls = 0;

  run(key: string, fn: () => Promise<T>): Promise<T> {
    const existing = this.inflight.get(key);
    if (existing) return existing;
    this.calls++;
    const p = fn().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  get size(): number {
    return this.inflight.size;
  }
}
