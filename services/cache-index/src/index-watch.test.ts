import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '@larder/config';
import type { NodeDeps } from '@larder/service-kit';
import { startCacheIndex, type CacheIndexService } from './index-service.js';
import { Evictor } from './evictor.js';
import { openTestNode, type TestNode } from './test-node.js';

// The shared Redis and NATS, each test in its own namespace (nothing is flushed).
const digest = (i: number) => i.toString(16).padStart(2, '0').repeat(32);
let config: Config;
let deps: NodeDeps;
let node: TestNode;
let svc: CacheIndexService | undefined;

beforeAll(async () => {
  node = await openTestNode('cache-index-test');
  ({ config, deps } = node);
});
afterAll(async () => {
  await svc?.stop();
  await node?.close();
});

describe('the cache-index and a lost or foreign index', () => {
  it('builds the index from the volume at start, then rebuilds it when the marker names another volume', async () => {
    for (let i = 1; i <= 2; i++) await deps.volume.writeChunk('demo', digest(i), Buffer.alloc(1000, i));
    svc = await startCacheIndex({ ...deps, config: () => config });
    expect(svc.indexHealth()).toMatchObject({ state: 'ready', lastRebuild: { chunkCount: 2, usedBytes: 2000 } });
    expect(await deps.index.totals()).toEqual({ usedBytes: 2000, chunkCount: 2 });
    // Another node's cache-index (another volume) wrote the index of this namespace.
    await deps.volume.writeChunk('demo', digest(3), Buffer.alloc(500, 3));
    const foreign = deps.index.beginRebuild();
    await foreign.add([{ key: `demo/${digest(9)}`, size: 7, lastUsedMs: 1 }]);
    await foreign.commit('another-volume');
    await svc.checkIndex();
    expect(svc.indexHealth().lastRebuild?.reason).toMatch(/another volume/);
    expect(await deps.index.totals()).toEqual({ usedBytes: 2500, chunkCount: 3 });
  });

  it('pauses eviction: a paused evictor evicts nothing, and evicts once resumed', async () => {
    const evictor = new Evictor({ ...deps, config: () => config });
    await deps.volume.writeChunk('demo', digest(4), Buffer.alloc(1000, 4));
    await deps.index.admit(`demo/${digest(4)}`, 1000);
    expect((await deps.index.totals()).usedBytes).toBe(3500);
    await evictor.pause();
    expect(await evictor.run()).toMatchObject({ evictedChunks: 0, usedBytes: 3500 });
    evictor.resume();
    const r = await evictor.run();
    expect(r.evictedChunks).toBeGreaterThan(0);
    expect(r.usedBytes).toBeLessThanOrEqual(3000);
  });
});
