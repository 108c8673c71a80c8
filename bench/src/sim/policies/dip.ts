import type { Policy } from './policy.js';
import { ScanHintLru } from './scan-hint-lru.js';

/**
 * LRU order with an adaptive insertion point (DIP: Qureshi et al., "Adaptive Insertion Policies for High Performance
 * Caching", ISCA 2007), in bytes. A hit moves the chunk to the hot end, as LRU does. A miss is admitted at the hot
 * end (LRU) or, under BIP, at the cold end — except every `bipEvery`-th admission, which goes to the hot end — so
 * that a working set larger than the cache keeps a stable part of itself instead of flushing it all (a loop or a scan
 * over more than the cache costs LRU every reference).
 *
 * Which one applies is decided by two tag-only shadow caches over a sample of the keys (1 in `sampleEvery`, at
 * capacity / `sampleEvery`; SHARDS-style spatial sampling), one inserting as LRU and one as BIP: a miss in either
 * moves a saturating counter, and the real cache inserts as the shadow that missed less lately.
 */
export class Dip implements Policy {
  readonly name: string;
  private readonly main: InsertionLru;
  private readonly shadowLru: InsertionLru;
  private readonly shadowBip: InsertionLru;
  /** > 0: BIP is missing less lately. */
  private psel = 0;

  constructor(
    capacity: number,
    private readonly sampleEvery = 16,
    private readonly bipEvery = 32,
    private readonly pselMax = 256,
    /** Fixed mode for the experiment: 'bip' always inserts cold (bimodally). */
    private readonly fixed?: 'bip',
  ) {
    this.name = fixed ? 'BIP (DIP without duelling)' : sampleEvery === 1 ? 'DIP, unsampled shadows' : 'DIP';
    this.main = new InsertionLru(capacity, bipEvery);
    this.shadowLru = new InsertionLru(capacity / sampleEvery, bipEvery);
    this.shadowBip = new InsertionLru(capacity / sampleEvery, bipEvery);
  }

  access(key: number, size: number): boolean {
    if (!this.fixed && sampled(key, this.sampleEvery)) {
      const lruHit = this.shadowLru.access(key, size, false);
      const bipHit = this.shadowBip.access(key, size, true);
      if (!lruHit && bipHit) this.psel = Math.min(this.pselMax, this.psel + 1);
      else if (lruHit && !bipHit) this.psel = Math.max(-this.pselMax, this.psel - 1);
    }
    return this.main.access(key, size, this.fixed === 'bip' || this.psel > 0);
  }

  usedBytes(): number {
    return this.main.usedBytes();
  }
}

/** 1 key in `every`, by a multiplicative hash (keys are dense ids). */
function sampled(key: number, every: number): boolean {
  return every <= 1 || (Math.imul(key, 0x9e3779b1) >>> 0) % every === 0;
}

/**
 * LRU whose misses enter at the hot end, or (bimodal) at the cold end but for one in `bipEvery`: the scan-hint LRU
 * with every hit refreshing recency, a cold admission being a "scan" one.
 */
class InsertionLru {
  private readonly lru: ScanHintLru;
  private bimodalMisses = 0;

  constructor(
    capacity: number,
    private readonly bipEvery: number,
  ) {
    this.lru = new ScanHintLru(capacity, true);
  }

  access(key: number, size: number, bimodal: boolean): boolean {
    const hit = this.lru.access(key, size, bimodal && this.bimodalMisses % this.bipEvery !== 0);
    if (!hit && bimodal) this.bimodalMisses++;
    return hit;
  }

  usedBytes(): number {
    return this.lru.usedBytes();
  }
}
