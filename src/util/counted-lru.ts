// An LRU cache bounded by its number of entries without allocating for that bound up front. lru-cache's `max`
// preallocates its index arrays for `max` entries: at the default `cache.verdictEntries` (100,000) each such cache
// costs ~2 MiB of resident memory while empty, and the daemon has six. Here the entry bound is kept by counting:
// setting a new key when `entries` are held first evicts the least recently used one (dispose reason 'evict', as
// lru-cache's own bound would). A cache with no `maxSize` of its own gets one of `entries` at weight 1 each.
import { LRUCache } from 'lru-cache';

export class CountedLru<K extends NonNullable<unknown>, V extends NonNullable<unknown>> extends LRUCache<K, V> {
  readonly #entries: number;

  constructor(entries: number, opts: Omit<LRUCache.Options<K, V, unknown>, 'max'>) {
    super(
      (opts.maxSize === undefined
        ? { ...opts, maxSize: Math.max(1, entries), sizeCalculation: () => 1 }
        : opts) as LRUCache.Options<K, V, unknown>,
    );
    this.#entries = Math.max(1, entries);
  }

  override set(key: K, value: V | undefined, setOptions?: LRUCache.SetOptions<K, V, unknown>): this {
    if (!this.has(key)) while (this.size >= this.#entries && this.pop() !== undefined);
    return super.set(key, value, setOptions);
  }
}
