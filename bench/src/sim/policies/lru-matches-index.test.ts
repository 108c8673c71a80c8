import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ChunkIndex, createRedis } from '@larder/redis';
import { syntheticTrace } from '../traces/synthetic.js';
import { Lru } from './lru.js';

// The shared Redis, in a namespace of this test's own (nothing is flushed).
const redis = createRedis({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
const index = new ChunkIndex(redis, `sim-lru-${randomUUID().slice(0, 8)}`);

afterAll(async () => {
  await index.clear();
  await redis.quit();
});

describe('the simulated LRU', () => {
  it('misses exactly where the Redis index (touch, evict-to-target, admit) misses', async () => {
    const trace = syntheticTrace('boot-storm', 'fixed4m');
    const refs = trace.refs.slice(0, 2500);
    const capacity = Math.floor(trace.uniqueBytes * 0.05);
    const sim = new Lru(capacity);
    const simMisses: number[] = [];
    const indexMisses: number[] = [];
    for (let i = 0; i < refs.length; i++) {
      const id = refs[i] as number;
      const size = trace.sizes[id] as number;
      const key = `demo/${id.toString(16).padStart(64, '0')}`;
      if (!sim.access(id, size)) simMisses.push(i);
      // A logical clock as the score, as the simulator's order: no ties.
      if ((await index.touch([key], i + 1)) === 1) continue;
      indexMisses.push(i);
      // What the evictor does for a fetcher that needs room for `size` bytes, then the fetcher's admission.
      while ((await index.totals()).usedBytes + size > capacity) {
        if ((await index.evictTo(capacity - size, 256)).length === 0) break;
      }
      await index.admit(key, size, i + 1);
    }
    expect(indexMisses.length).toBeGreaterThan(100);
    expect(indexMisses).toEqual(simMisses);
  });
});
