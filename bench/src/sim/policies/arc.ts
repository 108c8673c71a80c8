import { OrderedMap, type Policy } from './policy.js';

/**
 * ARC (Megiddo & Modha, FAST 2003), in bytes: T1 (seen once recently) and T2 (seen at least twice) are LRU lists
 * sharing the capacity; B1 and B2 remember the keys (and sizes) evicted from each. A miss found in B1 moves the
 * target size p of T1 up, one found in B2 moves it down, each by the chunk's size scaled by the ratio of the ghost
 * lists (the paper's δ); the miss then enters T2. Room is made from T1 while it is above p, else from T2. Each ghost
 * list holds at most the capacity in bytes, and both together at most twice it.
 */
export class Arc implements Policy {
  readonly name = 'ARC';
  private readonly t1 = new OrderedMap<number>();
  private readonly t2 = new OrderedMap<number>();
  private readonly b1 = new OrderedMap<number>();
  private readonly b2 = new OrderedMap<number>();
  private t1Used = 0;
  private t2Used = 0;
  private b1Used = 0;
  private b2Used = 0;
  /** Target bytes of T1. */
  private p = 0;

  constructor(private readonly capacity: number) {}

  access(key: number, size: number): boolean {
    const inT1 = this.t1.map.get(key);
    if (inT1 !== undefined) {
      this.t1.map.delete(key);
      this.t1Used -= inT1;
      this.t2.map.set(key, inT1);
      this.t2Used += inT1;
      return true;
    }
    const inT2 = this.t2.map.get(key);
    if (inT2 !== undefined) {
      this.t2.map.delete(key);
      this.t2.map.set(key, inT2);
      return true;
    }
    if (size > this.capacity) return false;
    const g1 = this.b1.map.get(key);
    const g2 = this.b2.map.get(key);
    if (g1 !== undefined) {
      this.p = Math.min(this.capacity, this.p + size * Math.max(1, this.b2Used / Math.max(1, this.b1Used)));
      this.b1.map.delete(key);
      this.b1Used -= g1;
    } else if (g2 !== undefined) {
      this.p = Math.max(0, this.p - size * Math.max(1, this.b1Used / Math.max(1, this.b2Used)));
      this.b2.map.delete(key);
      this.b2Used -= g2;
    }
    const ghostHit = g1 !== undefined || g2 !== undefined;
    while (this.t1Used + this.t2Used + size > this.capacity) this.replace(g2 !== undefined);
    if (ghostHit) {
      this.t2.map.set(key, size);
      this.t2Used += size;
    } else {
      this.t1.map.set(key, size);
      this.t1Used += size;
    }
    this.trimGhosts();
    return false;
  }

  usedBytes(): number {
    return this.t1Used + this.t2Used;
  }

  private replace(inB2: boolean): void {
    const fromT1 = this.t1.map.size > 0 && (this.t1Used > this.p || (inB2 && this.t1Used >= this.p) || this.t2.map.size === 0);
    if (fromT1) {
      const [k, s] = this.t1.shift() as [number, number];
      this.t1Used -= s;
      this.b1.map.set(k, s);
      this.b1Used += s;
    } else {
      const [k, s] = this.t2.shift() as [number, number];
      this.t2Used -= s;
      this.b2.map.set(k, s);
      this.b2Used += s;
    }
  }

  /** |T1| + |B1| <= c and |T1| + |T2| + |B1| + |B2| <= 2c, in bytes. */
  private trimGhosts(): void {
    while (this.b1.map.size > 0 && this.t1Used + this.b1Used > this.capacity) {
      const [, s] = this.b1.shift() as [number, number];
      this.b1Used -= s;
    }
    while (this.b2.map.size > 0 && this.t1Used + this.t2Used + this.b1Used + this.b2Used > 2 * this.capacity) {
      const [, s] = this.b2.shift() as [number, number];
      this.b2Used -= s;
    }
  }
}
