import type { ChunkIndex } from '@larder/redis';
import { createLogger } from '@larder/telemetry';

const log = createLogger('gateway');

/** Collects hits, misses and recency updates and writes them to Redis in batches, not one call per hit. */
export class TouchBatcher {
  private keys = new Set<string>();
  private hits = 0;
  private misses = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly index: ChunkIndex, intervalMs: number) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  /** Record a hit on a chunk. */
  hit(key: string): void {
    this.hits++;
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

  /** Write what has been collected. Failures are logged and dropped: recency is advisory. */
  async flush(): Promise<void> {
    const keys = [...this.keys];
    const stats = { hits: this.hits, misses: this.misses };
    this.keys = new Set();
    this.hits = 0;
    this.misses = 0;
    try {
      if (keys.length > 0) await this.index.touch(keys);
      if (stats.hits || stats.misses) await this.index.incrStats(stats);
    } catch (err) {
      log.warn('recency flush failed', { err, keys: keys.length });
    }
  }

  /** Flush and stop the timer. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
