import { afterAll, describe, expect, it } from 'vitest';
import { ChunkIndex } from './chunk-index.js';
import { MAX_RETRIES_PER_REQUEST, createRedis, retryDelayMs } from './connection.js';
import { IndexError, IndexScriptCode } from './errors.js';
import { REDIS_URL, cleanup, testNamespace } from './test-redis.js';

const ns = testNamespace('connection');
const redis = createRedis({ url: REDIS_URL });

afterAll(() => cleanup(ns, [redis]));

describe('createRedis', () => {
  it('connects eagerly with fail-fast options', async () => {
    expect(await redis.ping()).toBe('PONG');
    expect(redis.options.lazyConnect).toBe(false);
    expect(redis.options.maxRetriesPerRequest).toBe(MAX_RETRIES_PER_REQUEST);
  });

  it('backs off exponentially with a cap', () => {
    expect([1, 2, 3, 4, 5, 6, 100].map(retryDelayMs)).toEqual([50, 100, 200, 400, 500, 500, 500]);
  });

  it('rejects bad options', () => {
    expect(() => createRedis({ url: REDIS_URL, connectTimeoutMs: 0 })).toThrow(TypeError);
  });

  it('fails fast with IndexError COMMAND_FAILED (with cause) when Redis is unreachable', async () => {
    const down = createRedis({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 500 });
    down.on('error', () => {});
    try {
      const started = Date.now();
      const err = await new ChunkIndex(down, ns).admit('a', 1).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(err).toBeInstanceOf(IndexError);
      expect((err as IndexError).code).toBe(IndexScriptCode.COMMAND_FAILED);
      expect((err as IndexError).cause).toBeInstanceOf(Error);
      await expect(down.ping()).rejects.toThrow();
    } finally {
      down.disconnect();
    }
  });
});
