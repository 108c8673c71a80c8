import type { Policy } from './policy.js';

/** Share of the capacity for the admission window (Caffeine's default 1%). */
export const WTINYLFU_WINDOW_SHARE = 0.01;
/** Share of the main space that is protected (Caffeine's 80%). */
export const WTINYLFU_PROTECTED_SHARE = 0.8;

/**
 * A count-min sketch of 4-bit counters (4 rows); its owner halves it every so many increments so that old
 * popularity fades (TinyLFU's reset).
 */
export class FrequencySketch {
  private readonly table: Uint8Array;
  private readonly mask: number;

  constructor(width: number) {
    let w = 1024;
    while (w < width && w < 1 << 24) w *= 2;
    this.table = new Uint8Array(w * 4);
    this.mask = w - 1;
  }

  private slot(key: number, row: number): number {
    const lo = key >>> 0;
    const hi = Math.floor(key / 2 ** 32) >>> 0;
    let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b + row * 0x632be5ab);
    h ^= h >>> 15;
    h = Math.imul(h, 0xc2b2ae35 ^ (row * 0x27d4eb2f));
    h ^= h >>> 13;
    return row * (this.mask + 1) + ((h >>> 0) & this.mask);
  }

  frequency(key: number): number {
    let f = 15;
    for (let r = 0; r < 4; r++) f = Math.min(f, this.table[this.slot(key, r)] as number);
    return f;
  }

  increment(key: number): void {
    for (let r = 0; r < 4; r++) {
      const i = this.slot(key, r);
      if ((this.table[i] as number) < 15) this.table[i] = (this.table[i] as number) + 1;
    }
  }

  /** Halve every counter (the reset). */
  halve(): void {
    for (let i = 0; i < this.table.length; i++) this.table[i] = (this.table[i] as number) >> 1;
  }
}

interface Node {
  key: number;
  size: number;
  prev: Node | undefined;
  next: Node | undefined;
}

/** An LRU list whose oldest entries can be looked at without removing them (W-TinyLFU compares before it evicts). */
class LinkedLru {
  private readonly nodes = new Map<number, Node>();
  private head: Node | undefined;
  private tail: Node | undefined;
  used = 0;

  get size(): number {
    return this.nodes.size;
  }

  get(key: number): number | undefined {
    return this.nodes.get(key)?.size;
  }

  /** Append as the most recent entry. */
  push(key: number, size: number): void {
    const n: Node = { key, size, prev: this.tail, next: undefined };
    if (this.tail) this.tail.next = n;
    else this.head = n;
    this.tail = n;
    this.nodes.set(key, n);
    this.used += size;
  }

  delete(key: number): number | undefined {
    const n = this.nodes.get(key);
    if (!n) return undefined;
    if (n.prev) n.prev.next = n.next;
    else this.head = n.next;
    if (n.next) n.next.prev = n.prev;
    else this.tail = n.prev;
    this.nodes.delete(key);
    this.used -= n.size;
    return n.size;
  }

  shift(): [number, number] | undefined {
    const h = this.head;
    if (!h) return undefined;
    this.delete(h.key);
    return [h.key, h.size];
  }

  /** Oldest first, without removing. */
  *oldest(): Generator<[number, number]> {
    for (let n = this.head; n; n = n.next) yield [n.key, n.size];
  }
}

/**
 * W-TinyLFU (Einziger, Friedman & Manes, ACM ToS 2017; Caffeine), in bytes: new chunks enter a small LRU window;
 * what the window pushes out is a candidate for the main space, an SLRU (probation, then protected on a hit).
 * The candidate is admitted only if the sketch says it is more popular than the probation victims it would
 * replace (all of them, for a candidate larger than one victim); else it is dropped. With `adaptive`, the window
 * share is tuned by hill climbing on the hit ratio (Caffeine's), so that recency-heavy traces get a large window.
 */
export class WTinyLfu implements Policy {
  readonly name = 'W-TinyLFU';
  private readonly window = new LinkedLru();
  private readonly probation = new LinkedLru();
  private readonly protectedQ = new LinkedLru();
  private windowTarget: number;
  private readonly sketch: FrequencySketch;
  private additions = 0;
  private seenBytes = 0;
  private seenRefs = 0;
  // Hill climbing state.
  private sampleRefs = 0;
  private sampleHits = 0;
  private prevHitRate = 0;
  private step: number;
  private direction = 1;

  constructor(
    private readonly capacity: number,
    windowShare = WTINYLFU_WINDOW_SHARE,
    private readonly adaptive = false,
  ) {
    this.windowTarget = capacity * windowShare;
    // Wide enough for a cache of the smallest chunks (16 KiB); the reset period follows the chunks' mean size.
    this.sketch = new FrequencySketch(Math.ceil(capacity / (16 * 1024)));
    this.step = capacity * 0.0625;
  }

  access(key: number, size: number): boolean {
    this.sketch.increment(key);
    this.seenBytes += size;
    this.seenRefs++;
    if (++this.additions >= 10 * this.entriesGuess()) {
      this.sketch.halve();
      this.additions = 0;
    }
    const hit = this.lookup(key);
    if (this.adaptive) this.climb(hit);
    if (hit) return true;
    if (size > this.capacity) return false;
    this.window.push(key, size);
    while (this.window.used > this.windowTarget && this.window.size > 0) {
      const [k, s] = this.window.shift() as [number, number];
      this.offer(k, s);
    }
    while (this.usedBytes() > this.capacity) {
      const q = this.probation.size > 0 ? this.probation : this.protectedQ.size > 0 ? this.protectedQ : this.window;
      q.shift();
    }
    return false;
  }

  usedBytes(): number {
    return this.window.used + this.probation.used + this.protectedQ.used;
  }

  /** Chunks the cache holds, roughly: the capacity over the mean size of the chunks referenced so far. */
  private entriesGuess(): number {
    return Math.max(16, this.capacity / (this.seenBytes / this.seenRefs));
  }

  private lookup(key: number): boolean {
    const w = this.window.delete(key);
    if (w !== undefined) {
      this.window.push(key, w);
      return true;
    }
    const p = this.probation.delete(key);
    if (p !== undefined) {
      this.protectedQ.push(key, p);
      const protectedTarget = (this.capacity - this.windowTarget) * WTINYLFU_PROTECTED_SHARE;
      while (this.protectedQ.used > protectedTarget) {
        const [k, s] = this.protectedQ.shift() as [number, number];
        this.probation.push(k, s);
      }
      return true;
    }
    const q = this.protectedQ.delete(key);
    if (q !== undefined) {
      this.protectedQ.push(key, q);
      return true;
    }
    return false;
  }

  /** A candidate from the window: into probation if there is room or it beats every victim it would need. */
  private offer(key: number, size: number): void {
    const free = this.capacity - this.usedBytes();
    if (free >= size) {
      this.probation.push(key, size);
      return;
    }
    const freq = this.sketch.frequency(key);
    let need = size - free;
    const victims: [LinkedLru, number][] = [];
    for (const q of [this.probation, this.protectedQ]) {
      for (const [k, s] of q.oldest()) {
        if (need <= 0) break;
        if (this.sketch.frequency(k) >= freq) return; // the candidate loses: dropped
        victims.push([q, k]);
        need -= s;
      }
    }
    for (const [q, k] of victims) q.delete(k);
    this.probation.push(key, size);
  }

  /** Caffeine's hill climber: every sample, move the window the way that raised the hit rate, with a decaying step. */
  private climb(hit: boolean): void {
    this.sampleRefs++;
    if (hit) this.sampleHits++;
    if (this.sampleRefs < Math.min(10 * this.entriesGuess(), 100_000)) return;
    const rate = this.sampleHits / this.sampleRefs;
    const change = rate - this.prevHitRate;
    if (change < 0) this.direction = -this.direction;
    this.step = Math.abs(change) >= 0.05 ? this.capacity * 0.0625 : this.step * 0.98;
    this.windowTarget = Math.min(this.capacity * 0.8, Math.max(this.capacity * 0.01, this.windowTarget + this.direction * this.step));
    this.prevHitRate = rate;
    this.sampleRefs = 0;
    this.sampleHits = 0;
  }
}
