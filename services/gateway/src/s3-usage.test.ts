import { ChunkIndex, createRedis, s3StoreCounts } from '@larder/redis';
import { startOwnRedis } from '@larder/redis/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { S3UsageCounter, s3OperationOf } from './s3-usage.js';

const own = await startOwnRedis();
const redis = createRedis({ url: own.url, connectTimeoutMs: 500 });
const index = new ChunkIndex(redis, 'usage');

afterAll(async () => {
  redis.disconnect();
  await own.stop();
});

describe('S3UsageCounter', () => {
  it('names operations as billed: a GET without a key lists', () => {
    expect([
      s3OperationOf('GET', true),
      s3OperationOf('GET', false),
      s3OperationOf('HEAD', true),
      s3OperationOf('PUT', true),
      s3OperationOf('POST', false),
      s3OperationOf('DELETE', true),
    ]).toEqual(['get', 'list', 'head', 'put', 'post', 'delete']);
  });

  it('adds its counts to the stats in Redis, and keeps them for the next flush while Redis is down', { timeout: 30_000 }, async () => {
    const usage = new S3UsageCounter(index, 60_000);
    usage.add('demo', 'get', 100);
    usage.add('demo', 'get', 50);
    usage.add('other', 'put', 7);
    await usage.flush();
    expect(s3StoreCounts(await index.stats())).toEqual({ demo: { get: { requests: 2, bytes: 150 } }, other: { put: { requests: 1, bytes: 7 } } });

    await own.stop();
    usage.add('demo', 'head', 0);
    await usage.flush();
    await own.start();
    for (let i = 0; i < 100 && redis.status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 100));
    // The restarted server is empty (it saves nothing): only what was kept arrives.
    await usage.stop();
    expect(s3StoreCounts(await index.stats())).toEqual({ demo: { head: { requests: 1, bytes: 0 } } });
  });
});
