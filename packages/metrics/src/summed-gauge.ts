import { Gauge } from 'prom-client';
import { registry } from './registry.js';

/** A reading taken at scrape time; undefined (or a failure) leaves the source out. */
export type GaugeSource = () => number | undefined | Promise<number | undefined>;

/**
 * A gauge read at scrape time from sources that register themselves (a fetcher's semaphore, the Redis index): the
 * sum of their readings. Several sources when one process runs several services of a kind (the stack, tests).
 */
export class SummedGauge {
  private readonly sources = new Set<GaugeSource>();

  /** `max`: the largest reading instead of the sum (a config generation, a capacity every service reads alike). */
  constructor(name: string, help: string, combine: 'sum' | 'max' = 'sum') {
    const sources = this.sources;
    new Gauge({
      name,
      help,
      registers: [registry],
      // Across the gateway's worker processes (cluster-metrics.ts) alike.
      aggregator: combine,
      async collect() {
        const readings = await Promise.all(
          [...sources].map((fn) =>
            Promise.resolve()
              .then(fn)
              .catch(() => undefined),
          ),
        );
        const values = readings.filter((v): v is number => v !== undefined);
        this.set(combine === 'max' ? Math.max(0, ...values) : values.reduce((sum, v) => sum + v, 0));
      },
    });
  }

  /** Add a source; call the returned function to remove it (when its service stops). */
  add(fn: GaugeSource): () => void {
    this.sources.add(fn);
    return () => this.sources.delete(fn);
  }
}
