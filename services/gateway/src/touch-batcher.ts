import type { ChunkIndex } from '@larder/redis';
import { createLogger } from '@larder/telemetry';

const log = createLogger('gateway');

/**
 * Collects hits, misses and recency updates and writes them to Redis in batches, not one call per hit. Never fails a
 * request: while Redis is unreachable recency updates are dropped and the hit and miss counts are kept for a later flush.
 */
export class TouchBatcher {
  private keys = new Set<string>();
  private hits = 0;
  /** Bytes of the chunk files the hits found (what the cache spared S3 downloading). */
  private hitBytes = 0;
  private misses = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastWarning = 0;

  constructor(
    private readonly index: ChunkIndex,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  /** Record a hit on a chunk of `bytes` bytes. */
  hit(key: string, bytes = 0): void {
    this.hits++;
    this.hitBytes += bytes;
    this.keys.add(key);
    if (this.keys.size >= 5000) void this.flush();
  }

  /** Record a use of a chunk that was already counted as a hit (recency only; cheap for a key already pending). */
  touch(key: string): void {
    if (this.keys.has(key)) return;
    this.keys.add(key);
    if (this.keys.size >= 5000) void this.flush();
  }

  /** Record a miss. */
  miss(): void {
    this.misses++;
  }

  /** Write what has been collected. Failures are logged (at most every 10 s) and recency dropped: it is advisory. */
  async flush(): Promise<void> {
    const keys = [...this.keys];
    const stats = { hits: this.hits, hitBytes: this.hitBytes, misses: this.misses };
    this.keys = new Set();
    this.hits = 0;
    this.hitBytes = 0;
    this.misses = 0;
    let counted = false;
    try {
      if (keys.length > 0) await this.index.touch(keys);
      if (stats.hits || stats.misses) await this.index.incrStats(stats);
      counted = true;
    } catch (err) {
      if (Date.now() - this.lastWarning > 10_000) {
        this.lastWarning = Date.now();
        log.warn('recency flush failed (hits and misses kept for the next flush)', { err: (err as Error).message, keys: keys.length });
      }
    } finally {
      if (!counted) {
        this.hits += stats.hits;
        this.hitBytes += stats.hitBytes;
        this.misses += stats.misses;
      }
    }
  }

  /** Flush and stop the timer. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
