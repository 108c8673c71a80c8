import { existsSync } from 'node:fs';
import { utimes } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '@larder/config';
import type { NodeDeps } from '@larder/service-kit';
import { startCacheIndex, type CacheIndexService } from './index-service.js';
import { Evictor } from './evictor.js';
import { openTestNode, type TestNode } from './test-node.js';

// The shared Redis and NATS, in a namespace of this test's own (nothing is flushed).
const digest = (i: number) => i.toString(16).padStart(2, '0').repeat(32);
let config: Config;
let deps: NodeDeps;
let node: TestNode;
let svc: CacheIndexService | undefined;

beforeAll(async () => {
  node = await openTestNode('cache-index-recency-test');
  ({ config, deps } = node);
});
afterAll(async () => {
  await svc?.stop();
  await node?.close();
});

describe('recency after the index is lost', () => {
  it('rebuilds recency from the files’ times: eviction still takes the chunk used longest ago', async () => {
    // Chunk 2 was used last, chunk 1 longest ago (file times in seconds since the epoch).
    const usedAt = new Map([
      [1, 1_000_000],
      [2, 3_000_000],
      [3, 2_000_000],
    ]);
    for (const [i, t] of usedAt) {
      await deps.volume.writeChunk('demo', digest(i), Buffer.alloc(1000, i));
      await utimes(deps.volume.chunkPath('demo', digest(i)), t, t);
    }
    svc = await startCacheIndex({ ...deps, config: () => config });
    expect(await deps.index.totals()).toEqual({ usedBytes: 3000, chunkCount: 3 });

    // The index is lost (a Redis restart without persistence): the next check rebuilds it from the volume.
    await deps.index.clear();
    await svc.checkIndex();
    expect(svc.indexHealth().lastRebuild?.reason).toBeDefined();
    expect(await deps.index.totals()).toEqual({ usedBytes: 3000, chunkCount: 3 });

    const evictor = new Evictor({ ...deps, config: () => ({ ...config, capacity: 2000 }) });
    expect(await evictor.run()).toMatchObject({ evictedChunks: 1, usedBytes: 2000 });
    expect(existsSync(deps.volume.chunkPath('demo', digest(1)))).toBe(false);
    const evictor2 = new Evictor({ ...deps, config: () => ({ ...config, capacity: 1000 }) });
    expect(await evictor2.run()).toMatchObject({ evictedChunks: 1, usedBytes: 1000 });
    expect(existsSync(deps.volume.chunkPath('demo', digest(3)))).toBe(false);
    expect(existsSync(deps.volume.chunkPath('demo', digest(2)))).toBe(true);
  });
});
