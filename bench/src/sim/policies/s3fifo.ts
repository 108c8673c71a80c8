import { OrderedMap, type Policy } from './policy.js';

interface Entry {
  size: number;
  freq: number;
}

/** Share of the capacity given to the small FIFO (the paper's 10%). */
export const S3FIFO_SMALL_SHARE = 0.1;
/** Frequency counters saturate here (2 bits). */
export const S3FIFO_MAX_FREQ = 3;

/**
 * S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction", SOSP 2023), in bytes: a small FIFO S
 * (10% of the capacity) where new chunks start, a main FIFO M (the rest) with a saturating frequency counter per
 * chunk, and a ghost FIFO G of keys recently evicted from S (at most M's capacity in their bytes). A hit only
 * increments the counter (no queue moves). A miss found in G goes straight to M, else to S. Evicting from S
 * moves its oldest chunk to M if it was hit while in S, else drops it into G; evicting from M gives a chunk with
 * a non-zero counter another round (counter - 1) and removes the first chunk whose counter is zero. One-pass
 * scans go through S and out, and cannot flush M.
 */
export class S3Fifo implements Policy {
  readonly name = 'S3-FIFO';
  private readonly small = new OrderedMap<Entry>();
  private readonly main = new OrderedMap<Entry>();
  private readonly ghost = new OrderedMap<number>();
  private smallUsed = 0;
  private mainUsed = 0;
  private ghostUsed = 0;
  private readonly smallTarget: number;
  private readonly mainTarget: number;

  /** `moveToMain`: hits while in S that earn a chunk its place in M (the paper's "accessed again"). */
  constructor(
    private readonly capacity: number,
    smallShare = S3FIFO_SMALL_SHARE,
    private readonly moveToMain = 1,
  ) {
    this.smallTarget = capacity * smallShare;
    this.mainTarget = capacity - this.smallTarget;
  }

  access(key: number, size: number): boolean {
    const held = this.small.map.get(key) ?? this.main.map.get(key);
    if (held) {
      held.freq = Math.min(held.freq + 1, S3FIFO_MAX_FREQ);
      return true;
    }
    if (size > this.capacity) return false;
    const ghostSize = this.ghost.map.get(key);
    if (ghostSize !== undefined) {
      this.ghost.map.delete(key);
      this.ghostUsed -= ghostSize;
    }
    while (this.smallUsed + this.mainUsed + size > this.capacity) this.evict();
    if (ghostSize !== undefined) {
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

  /** Evict from S until one chunk left the cache (chunks hit while in S move to M instead). */
  private evictSmall(): void {
    for (let t = this.small.shift(); t; t = this.small.shift()) {
      const [key, entry] = t;
      this.smallUsed -= entry.size;
      if (entry.freq >= this.moveToMain) {
        entry.freq = 0;
        this.main.map.set(key, entry);
        this.mainUsed += entry.size;
        while (this.mainUsed > this.mainTarget) this.evictMain();
      } else {
        this.ghost.map.set(key, entry.size);
        this.ghostUsed += entry.size;
        while (this.ghostUsed > this.mainTarget) {
          const [, gSize] = this.ghost.shift() as [number, number];
          this.ghostUsed -= gSize;
        }
        return;
      }
    }
  }

  /** Evict one chunk from M, giving those with a non-zero counter another round. */
  private evictMain(): void {
    for (let t = this.main.shift(); t; t = this.main.shift()) {
      const [key, entry] = t;
      if (entry.freq > 0) {
        entry.freq--;
        this.main.map.set(key, entry);
      } else {
        this.mainUsed -= entry.size;
        return;
      }
    }
  }
}
