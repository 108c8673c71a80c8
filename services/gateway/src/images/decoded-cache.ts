import { SingleFlight } from '@larder/flight';

/** Share of the budget for the admission window (new chunks, and the bytes being loaded); the rest is the main part. */
const WINDOW_SHARE = 1 / 4;

/**
 * Decoded chunks shared by every open image, bounded by a byte budget. Loads of one key share a promise, so
 * concurrent readers (and a digest that repeats within an image) fetch and decode once. Bytes being loaded
 * count against the budget too, so readahead cannot push memory past it: `tryPrefetch` refuses.
 *
 * Scan resistant (a small W-TinyLFU): a chunk decoded enters a window (a quarter of the budget, first in first out,
 * long enough for readahead's chunk to be read); leaving it, it enters the main part while that has room, and later
 * only by evicting a chunk read less often than itself. A sequential read of an image larger than the budget, read
 * again and again, so keeps the part that fits instead of evicting each chunk just before it is read again (plain
 * LRU: no hits at all). Reads are counted per key, halved as they age, so that a new hot set does take over.
 */
export class DecodedChunkCache {
  private readonly window = new Map<string, Buffer>(); // insertion order = age
  private readonly main = new Map<string, Buffer>(); // insertion order = recency (re-inserted on use)
  private readonly loading = new SingleFlight<Buffer>();
  private readonly reads = new Map<string, number>();
  private readsSinceAging = 0;
  private windowBytes = 0;
  private mainBytes = 0;
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
    return this.windowBytes + this.mainBytes + this.reservedBytes;
  }

  /** Whether a key is cached or loading (readahead skips those). */
  has(key: string): boolean {
    return this.main.has(key) || this.window.has(key) || this.loading.has(key);
  }

  /** A decoded chunk: from the cache, from a load already under way, or by `load` (whose size is `expected`). */
  get(key: string, expected: number, load: () => Promise<Buffer>): Promise<Buffer> {
    this.countRead(key);
    const hit = this.main.get(key);
    if (hit) {
      this.main.delete(key);
      this.main.set(key, hit);
      this.hits++;
      return Promise.resolve(hit);
    }
    const inWindow = this.window.get(key);
    if (inWindow) {
      this.hits++;
      return Promise.resolve(inWindow);
    }
    const pending = this.loading.get(key);
    if (pending) return pending;
    this.misses++;
    return this.start(key, expected, load);
  }

  /** Drop a chunk held (its decoded copy is kept elsewhere now: the volume's spill). */
  delete(key: string): void {
    const w = this.window.get(key);
    if (w) {
      this.window.delete(key);
      this.windowBytes -= w.byteLength;
    }
    const m = this.main.get(key);
    if (m) {
      this.main.delete(key);
      this.mainBytes -= m.byteLength;
    }
  }

  /** Start loading a chunk only if the window has room for it now (readahead); false when refused or already there. */
  tryPrefetch(key: string, expected: number, load: () => Promise<Buffer>): boolean {
    if (this.has(key)) return false;
    if (this.reservedBytes + expected > this.budget * WINDOW_SHARE) return false;
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
          this.window.set(key, buf);
          this.windowBytes += buf.byteLength;
          return buf;
        })
        .finally(() => {
          this.reservedBytes -= expected;
          this.trim();
        }),
    );
  }

  /** Reads of a key, halved for every key once there have been as many reads as ten times the chunks held. */
  private countRead(key: string): void {
    this.reads.set(key, (this.reads.get(key) ?? 0) + 1);
    if (++this.readsSinceAging < 10 * (this.main.size + this.window.size + 64)) return;
    this.readsSinceAging = 0;
    for (const [k, n] of this.reads) {
      if (n <= 1) this.reads.delete(k);
      else this.reads.set(k, n >> 1);
    }
  }

  /** Move the window's oldest chunks on (into main, or out) until window and total are within budget. */
  private trim(): void {
    const windowCap = this.budget * WINDOW_SHARE;
    for (const [key, buf] of this.window) {
      if (this.windowBytes + this.reservedBytes <= windowCap && this.usedBytes <= this.budget) break;
      this.window.delete(key);
      this.windowBytes -= buf.byteLength;
      this.admit(key, buf);
    }
    // Still over (loads under way past the window's share, or a smaller budget): least recently used out of main.
    for (const [key, buf] of this.main) {
      if (this.usedBytes <= this.budget) break;
      this.main.delete(key);
      this.mainBytes -= buf.byteLength;
    }
  }

  /** A chunk leaving the window: into main if there is room, or if it is read more often than the chunks it evicts. */
  private admit(key: string, buf: Buffer): void {
    const mainCap = this.budget - this.budget * WINDOW_SHARE;
    const reads = this.reads.get(key) ?? 0;
    const victims: [string, Buffer][] = [];
    let freed = 0;
    for (const entry of this.main) {
      if (this.mainBytes - freed + buf.byteLength <= mainCap) break;
      if ((this.reads.get(entry[0]) ?? 0) >= reads) return; // the newcomer loses: dropped, main unchanged
      victims.push(entry);
      freed += entry[1].byteLength;
    }
    if (this.mainBytes - freed + buf.byteLength > mainCap) return; // larger than main itself
    for (const [k, b] of victims) {
      this.main.delete(k);
      this.mainBytes -= b.byteLength;
    }
    this.main.set(key, buf);
    this.mainBytes += buf.byteLength;
  }
}
