import { OrderedMap, type Policy } from './policy.js';

/** Share of the capacity for A1in (the paper's recommended Kin = 25%). */
export const TWOQ_IN_SHARE = 0.25;
/** Bytes of keys remembered in A1out, as a share of the capacity (the paper's Kout = 50%). */
export const TWOQ_OUT_SHARE = 0.5;

/**
 * 2Q, full version (Johnson & Shasha, VLDB 1994), in bytes: new chunks enter A1in, a FIFO; a hit there changes
 * nothing (correlated references). Chunks pushed out of A1in are remembered (key only) in the ghost FIFO A1out;
 * a miss found in A1out enters Am, an LRU, which is the only place recency counts. Room is made from A1in while
 * it holds more than Kin, else from Am's least recently used end.
 */
export class TwoQ implements Policy {
  readonly name = '2Q';
  private readonly a1in = new OrderedMap<number>();
  private readonly a1out = new OrderedMap<number>();
  private readonly am = new OrderedMap<number>();
  private inUsed = 0;
  private outUsed = 0;
  private amUsed = 0;
  private readonly kin: number;
  private readonly kout: number;

  constructor(
    private readonly capacity: number,
    inShare = TWOQ_IN_SHARE,
    outShare = TWOQ_OUT_SHARE,
  ) {
    this.kin = capacity * inShare;
    this.kout = capacity * outShare;
  }

  access(key: number, size: number): boolean {
    const inAm = this.am.map.get(key);
    if (inAm !== undefined) {
      this.am.map.delete(key);
      this.am.map.set(key, inAm);
      return true;
    }
    if (this.a1in.map.has(key)) return true;
    if (size > this.capacity) return false;
    const remembered = this.a1out.map.get(key);
    if (remembered !== undefined) {
      this.a1out.map.delete(key);
      this.outUsed -= remembered;
    }
    while (this.inUsed + this.amUsed + size > this.capacity) this.reclaim();
    if (remembered !== undefined) {
      this.am.map.set(key, size);
      this.amUsed += size;
    } else {
      this.a1in.map.set(key, size);
      this.inUsed += size;
    }
    return false;
  }

  usedBytes(): number {
    return this.inUsed + this.amUsed;
  }

  private reclaim(): void {
    if (this.a1in.map.size > 0 && (this.inUsed > this.kin || this.am.map.size === 0)) {
      const [key, size] = this.a1in.shift() as [number, number];
      this.inUsed -= size;
      this.a1out.map.set(key, size);
      this.outUsed += size;
      while (this.outUsed > this.kout) {
        const [, gSize] = this.a1out.shift() as [number, number];
        this.outUsed -= gSize;
      }
    } else {
      const [, size] = this.am.shift() as [number, number];
      this.amUsed -= size;
    }
  }
}
