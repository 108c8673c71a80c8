/**
 * An eviction policy over a cache of `capacityBytes`, fed one chunk reference at a time. A miss is one S3 GET of
 * the chunk; the policy admits the chunk (making room first), unless it is larger than the whole cache.
 */
export interface Policy {
  readonly name: string;
  /** Reference chunk `key` of `size` bytes, `scan` if a whole-image scan asks (most policies ignore it); true on a hit. */
  access(key: number, size: number, scan?: boolean): boolean;
  /** Bytes of the chunks held now (never above the capacity after an access). */
  usedBytes(): number;
}

/** Builds a policy for a capacity. */
export type PolicyFactory = (capacityBytes: number) => Policy;

/**
 * A map kept in insertion order (a FIFO, or an LRU when a use deletes and re-sets the key) whose oldest entry is
 * taken off in O(1). One iterator is kept across calls: a fresh `map.entries()` would walk over every slot deleted
 * since V8 last compacted the table, which made large caches quadratic.
 */
export class OrderedMap<V> {
  readonly map = new Map<number, V>();
  private cursor: MapIterator<[number, V]> | undefined;

  /** Remove and return the oldest entry. */
  shift(): [number, V] | undefined {
    for (let attempt = 0; attempt < 2; attempt++) {
      this.cursor ??= this.map.entries();
      const next = this.cursor.next();
      if (!next.done) {
        this.map.delete(next.value[0]);
        return next.value;
      }
      // A finished iterator stays finished; entries set since need a new one.
      this.cursor = undefined;
    }
    return undefined;
  }
}
