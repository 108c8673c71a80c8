import { SingleFlight } from '@larder/flight';

/**
 * Decoded chunks shared by every open image, bounded by a byte budget. Loads of one key share a promise, so
 * concurrent readers (and a digest that repeats within an image) fetch and decode once. Bytes being loaded
 * count against the budget too, so readahead cannot push memory past it: `tryReserve` refuses.
 */
export class DecodedChunkCache {
  private readonly entries = new Map<string, Buffer>(); // insertion order = recency (re-inserted on use)
  private readonly loading = new SingleFlight<Buffer>();
  private cachedBytes = 0;
  private reservedBytes = 0;
  hits = 0;
  misses = 0;

  constructor(private budget: number) {}

  /** Change the budget (config reload); evicts down to it. */
  setBudget(bytes: number): void {
    this.budget = bytes;
    this.trim();
  }

  /** Bytes held plus bytes being loaded. */
  get usedBytes(): number {
    return this.cachedBytes + this.reservedBytes;
  }

  /** Whether a key is cached or loading (readahead skips those). */
  has(key: string): boolean {
    return this.entries.has(key) || this.loading.has(key);
  }

  /** A decoded chunk: from the cache, from a load already under way, or by `load` (whose size is `expected`). */
  get(key: string, expected: number, load: () => Promise<Buffer>): Promise<Buffer> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      this.hits++;
      return Promise.resolve(hit);
    }
    const pending = this.loading.get(key);
    if (pending) return pending;
    this.misses++;
    return this.start(key, expected, load);
  }

  /** Start loading a chunk only if the budget has room for it now (readahead); false when refused or already there. */
  tryPrefetch(key: string, expected: number, load: () => Promise<Buffer>): boolean {
    if (this.has(key)) return false;
    if (this.reservedBytes + expected > this.budget / 2) return false;
    this.start(key, expected, load).catch(() => {
      // A failed prefetch is retried, and reported, by the read that needs the chunk.
    });
    return true;
  }

  private start(key: string, expected: number, load: () => Promise<Buffer>): Promise<Buffer> {
    this.reservedBytes += expected;
    this.trim();
    return this.loading.run(key, () =>
      load()
        .then((buf) => {
          this.entries.set(key, buf);
          this.cachedBytes += buf.byteLength;
          return buf;
        })
        .finally(() => {
          this.reservedBytes -= expected;
          this.trim();
        }),
    );
  }

  private trim(): void {
    for (const [key, buf] of this.entries) {
      if (this.cachedBytes + this.reservedBytes <= this.budget) break;
      this.entries.delete(key);
      this.cachedBytes -= buf.byteLength;
    }
  }
}
