import { OrderedMap, type Policy } from './policy.js';
import { S3FIFO_MAX_FREQ, S3FIFO_SMALL_SHARE } from './s3fifo.js';

interface Entry {
  size: number;
  freq: number;
}

/**
 * S3-FIFO whose small queue is sized by its ghosts, as ARC sizes T1: a miss on a key recently dropped from S (its
 * ghost GS) says S was too small for that chunk's reuse distance, so S's target grows by the chunk's size (scaled
 * by the ratio of the ghosts, ARC's δ); a miss on a key recently evicted from M (ghost GM) says M was too small,
 * so S shrinks. The target stays between `minShare` and `maxShare` of the capacity. Everything else is S3-FIFO:
 * hits only count, S's chunks hit while in S (or found in GS) go to M, M gives counted chunks another round.
 * Meant for the boot storm: VMs read the same shared chunks a little apart, and a 10% S dropped them before the
 * second reader came; here S grows until they stay.
 */
export class S3FifoAdaptive implements Policy {
  readonly name = 'S3-FIFO adaptive';
  private readonly small = new OrderedMap<Entry>();
  private readonly main = new OrderedMap<Entry>();
  private readonly ghostS = new OrderedMap<number>();
  private readonly ghostM = new OrderedMap<number>();
  private smallUsed = 0;
  private mainUsed = 0;
  private ghostSUsed = 0;
  private ghostMUsed = 0;
  private smallTarget: number;

  constructor(
    private readonly capacity: number,
    private readonly minShare = 0.01,
    private readonly maxShare = 0.9,
    /** M-ghost hits enter M, too (else they restart in S). */
    private readonly ghostMToMain = true,
  ) {
    this.smallTarget = capacity * S3FIFO_SMALL_SHARE;
  }

  access(key: number, size: number): boolean {
    const held = this.small.map.get(key) ?? this.main.map.get(key);
    if (held) {
      held.freq = Math.min(held.freq + 1, S3FIFO_MAX_FREQ);
      return true;
    }
    if (size > this.capacity) return false;
    const gs = this.ghostS.map.get(key);
    const gm = this.ghostM.map.get(key);
    if (gs !== undefined) {
      this.ghostS.map.delete(key);
      this.ghostSUsed -= gs;
      const delta = size * Math.max(1, this.ghostMUsed / Math.max(1, this.ghostSUsed));
      this.smallTarget = Math.min(this.capacity * this.maxShare, this.smallTarget + delta);
    } else if (gm !== undefined) {
      this.ghostM.map.delete(key);
      this.ghostMUsed -= gm;
      const delta = size * Math.max(1, this.ghostSUsed / Math.max(1, this.ghostMUsed));
      this.smallTarget = Math.max(this.capacity * this.minShare, this.smallTarget - delta);
    }
    while (this.smallUsed + this.mainUsed + size > this.capacity) this.evict();
    if (gs !== undefined || (gm !== undefined && this.ghostMToMain)) {
      this.main.map.set(key, { size, freq: 0 });
      this.mainUsed += size;
    } else {
      this.small.map.set(key, { size, freq: 0 });
      this.smallUsed += size;
    }
    return false;
  }

  usedBytes(): number {
    return this.smallUsed + this.mainUsed;
  }

  private evict(): void {
    if (this.main.map.size === 0 || (this.small.map.size > 0 && this.smallUsed >= this.smallTarget)) this.evictSmall();
    else this.evictMain();
  }

  private evictSmall(): void {
    for (let t = this.small.shift(); t; t = this.small.shift()) {
      const [key, entry] = t;
      this.smallUsed -= entry.size;
      if (entry.freq >= 1) {
        entry.freq = 0;
        this.main.map.set(key, entry);
        this.mainUsed += entry.size;
        while (this.mainUsed > this.capacity - this.smallTarget && this.mainUsed > 0) this.evictMain();
      } else {
        this.ghostS.map.set(key, entry.size);
        this.ghostSUsed += entry.size;
        while (this.ghostSUsed > this.capacity) {
          const [, g] = this.ghostS.shift() as [number, number];
          this.ghostSUsed -= g;
        }
        return;
      }
    }
  }

  private evictMain(): void {
    for (let t = this.main.shift(); t; t = this.main.shift()) {
      const [key, entry] = t;
      if (entry.freq > 0) {
        entry.freq--;
        this.main.map.set(key, entry);
      } else {
        this.mainUsed -= entry.size;
        this.ghostM.map.set(key, entry.size);
        this.ghostMUsed += entry.size;
        while (this.ghostMUsed > this.capacity) {
          const [, g] = this.ghostM.shift() as [number, number];
          this.ghostMUsed -= g;
        }
        return;
      }
    }
  }
}
