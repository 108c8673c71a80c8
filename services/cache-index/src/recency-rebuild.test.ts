import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '@larder/config';
import { connectNodeDeps, type NodeDeps } from '@larder/service-kit';
import { startCacheIndex, type CacheIndexService } from './index-service.js';
import { Evictor } from './evictor.js';

// The shared Redis and NATS, in a namespace of this test's own (nothing is flushed).
const digest = (i: number) => i.toString(16).padStart(2, '0').repeat(32);
let dir: string;
let config: Config;
let deps: NodeDeps;
let svc: CacheIndexService | undefined;

beforeAll(async () => {
  const ns = `t${randomBytes(5).toString('hex')}`;
  dir = await mkdtemp(path.join(os.tmpdir(), `larder-${ns}-`));
  config = parseConfig({
    namespace: ns,
    capacity: 3000,
    volume: { path: path.join(dir, 'volume'), fsync: false },
    redis: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    nats: { servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
    index: { evictInterval: '1h', reconcileInterval: '1h' },
  });
  deps = await connectNodeDeps(config, 'cache-index-recency-test');
});
afterAll(async () => {
  await svc?.stop();
  await deps?.index.clear();
  await deps?.close();
  await rm(dir, { recursive: true, force: true });
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
