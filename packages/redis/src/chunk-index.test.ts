import { afterAll, describe, expect, it } from 'vitest';
import { ChunkIndex } from './chunk-index.js';
import { IndexError, IndexScriptCode } from './errors.js';
import { indexKeys } from './keys.js';
import { runScript } from './script-loader.js';
import { cleanup, connect, keysOf, testNamespace } from './test-redis.js';

const base = testNamespace('chunk-index');
const connections = connect(4);
const redis = connections[0]!;
let seq = 0;

/** A fresh index in its own sub-namespace of this file's namespace. */
function freshIndex(): { index: ChunkIndex; ns: string } {
  const ns = `${base}.${++seq}`;
  return { index: new ChunkIndex(redis, ns), ns };
}

/** Sum of the size hash, straight from Redis. */
async function sumOfSizes(ns: string): Promise<number> {
  const sizes = await redis.hvals(indexKeys(ns).size);
  return sizes.reduce((sum, s) => sum + Number(s), 0);
}

async function expectIndexError(promise: Promise<unknown>, code: IndexScriptCode): Promise<IndexError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(IndexError);
  expect((err as IndexError).code).toBe(code);
  return err as IndexError;
}

afterAll(() => cleanup(base, connections));

describe('ChunkIndex', () => {
  it('admits a chunk once and refreshes it on re-admit without double counting', async () => {
    const { index, ns } = freshIndex();
    expect(await index.admit('demo/aa', 100, 1_000)).toEqual({ admitted: true, usedBytes: 100, chunkCount: 1 });
    expect(await index.admit('demo/bb', 50, 1_001)).toEqual({ admitted: true, usedBytes: 150, chunkCount: 2 });
    // Re-admit: size unchanged (even if a different one is passed), only the score moves forward.
    expect(await index.admit('demo/aa', 999, 2_000)).toEqual({ admitted: false, usedBytes: 150, chunkCount: 2 });
    expect(await redis.zscore(indexKeys(ns).lru, 'demo/aa')).toBe('2000');
    await index.admit('demo/aa', 100, 1_500);
    expect(await redis.zscore(indexKeys(ns).lru, 'demo/aa')).toBe('2000');
    expect(await index.sizeOf('demo/aa')).toBe(100);
    expect(await index.sizeOf('demo/zz')).toBeUndefined();
    expect(await index.has('demo/bb')).toBe(true);
    expect(await index.has('demo/zz')).toBe(false);
    expect(await index.totals()).toEqual({ usedBytes: 150, chunkCount: 2 });
    expect(await sumOfSizes(ns)).toBe(150);
  });

  it('reports zero totals for an empty index', async () => {
    const { index } = freshIndex();
    expect(await index.totals()).toEqual({ usedBytes: 0, chunkCount: 0 });
    expect(await index.evictTo(0)).toEqual([]);
    expect(await index.touch([])).toBe(0);
    expect(await index.remove([])).toBe(0);
  });

  it('touches only existing members, never adds or lowers scores', async () => {
    const { index, ns } = freshIndex();
    const { lru } = indexKeys(ns);
    await index.admit('a', 1, 100);
    await index.admit('b', 1, 500);
    expect(await index.touch(['a', 'missing', 'a', 'b'], 300)).toBe(2);
    expect(await redis.zscore(lru, 'a')).toBe('300');
    expect(await redis.zscore(lru, 'b')).toBe('500');
    expect(await redis.zscore(lru, 'missing')).toBeNull();
    expect(await index.totals()).toEqual({ usedBytes: 2, chunkCount: 2 });
  });

  it('touches many keys across several script calls', async () => {
    const { index } = freshIndex();
    const keys = Array.from({ length: 1_200 }, (_, i) => `k/${i}`);
    await Promise.all(keys.map((k) => index.admit(k, 1, 1)));
    expect(await index.touch([...keys, 'nope/1', 'nope/2'], 2)).toBe(1_200);
  });

  it('evicts in LRU order; touch changes the order', async () => {
    const { index } = freshIndex();
    await index.admit('a', 10, 1);
    await index.admit('b', 10, 2);
    await index.admit('c', 10, 3);
    await index.admit('d', 10, 4);
    await index.touch(['a'], 5);
    expect(await index.evictTo(20)).toEqual([
      { key: 'b', size: 10 },
      { key: 'c', size: 10 },
    ]);
    expect(await index.totals()).toEqual({ usedBytes: 20, chunkCount: 2 });
    expect(await index.has('a')).toBe(true);
    expect(await index.has('d')).toBe(true);
    expect(await index.evictTo(20)).toEqual([]);
    const stats = await index.stats();
    expect(stats.evictions).toBe(2);
    expect(stats.evictedBytes).toBe(20);
  });

  it('evictTo respects maxCount and the target, across windows', async () => {
    const { index, ns } = freshIndex();
    await Promise.all(Array.from({ length: 150 }, (_, i) => index.admit(`c/${String(i).padStart(3, '0')}`, 10, i)));
    const first = await index.evictTo(0, 100);
    expect(first.map((c) => c.key)).toEqual(Array.from({ length: 100 }, (_, i) => `c/${String(i).padStart(3, '0')}`));
    expect(await index.totals()).toEqual({ usedBytes: 500, chunkCount: 50 });
    // Target 255: must go to <= 255, i.e. remove 25 chunks (250 left).
    const second = await index.evictTo(255);
    expect(second).toHaveLength(25);
    expect(await index.totals()).toEqual({ usedBytes: 250, chunkCount: 25 });
    expect(await index.evictTo(0, 0)).toEqual([]);
    expect(await index.evictTo(1_000_000)).toEqual([]);
    expect(await sumOfSizes(ns)).toBe(250);
    expect(await index.stats()).toMatchObject({ evictions: 125, evictedBytes: 1_250 });
  });

  it('removes specific members and returns the bytes removed', async () => {
    const { index, ns } = freshIndex();
    await index.admit('a', 7, 1);
    await index.admit('b', 11, 2);
    await index.admit('c', 13, 3);
    expect(await index.remove(['a', 'missing', 'a', 'c'])).toBe(20);
    expect(await index.totals()).toEqual({ usedBytes: 11, chunkCount: 1 });
    expect(await redis.zscore(indexKeys(ns).lru, 'a')).toBeNull();
    expect(await index.remove(['a'])).toBe(0);
    expect(await sumOfSizes(ns)).toBe(11);
  });

  it('keeps used == sum of sizes under 200 concurrent admits of overlapping keys from 4 connections', async () => {
    const { ns } = freshIndex();
    const indexes = connections.map((c) => new ChunkIndex(c, ns));
    const sizeOfKey = (k: number): number => 1_000 + k * 37;
    await Promise.all(Array.from({ length: 200 }, (_, i) => indexes[i % 4]!.admit(`demo/${i % 40}`, sizeOfKey(i % 40), 1_000 + i)));
    const expected = Array.from({ length: 40 }, (_, k) => sizeOfKey(k)).reduce((a, b) => a + b, 0);
    expect(await indexes[0]!.totals()).toEqual({ usedBytes: expected, chunkCount: 40 });
    expect(await sumOfSizes(ns)).toBe(expected);
  });

  it('keeps used == sum of sizes under concurrent admit/touch/evict/remove', async () => {
    const { ns } = freshIndex();
    const indexes = connections.map((c) => new ChunkIndex(c, ns));
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 400; i++) {
      const index = indexes[i % 4]!;
      const key = `mix/${i % 60}`;
      if (i % 10 === 3) ops.push(index.evictTo(20_000, 5));
      else if (i % 10 === 7) ops.push(index.remove([key, `mix/${(i + 1) % 60}`]));
      else if (i % 10 === 9) ops.push(index.touch([key, 'mix/0', 'mix/1'], 10_000 + i));
      else ops.push(index.admit(key, 500 + (i % 60), 10_000 + i));
    }
    await Promise.all(ops);
    const totals = await indexes[0]!.totals();
    expect(totals.usedBytes).toBe(await sumOfSizes(ns));
    expect(totals.chunkCount).toBe(await redis.hlen(indexKeys(ns).size));
  });

  it('scans all members with their sizes', async () => {
    const { index } = freshIndex();
    const keys = Array.from({ length: 1_000 }, (_, i) => `scan/${i}`);
    await Promise.all(keys.map((k, i) => index.admit(k, i, 1)));
    const seen = new Map<string, number>();
    let batches = 0;
    for await (const batch of index.scan(100)) {
      batches++;
      for (const { key, size } of batch) seen.set(key, size);
    }
    expect(batches).toBeGreaterThan(1);
    expect(seen.size).toBe(1_000);
    keys.forEach((k, i) => expect(seen.get(k)).toBe(i));
    let empty = 0;
    for await (const batch of freshIndex().index.scan()) empty += batch.length;
    expect(empty).toBe(0);
  });

  it('counts stats, skipping zeros', async () => {
    const { index } = freshIndex();
    await index.incrStats({ hits: 3, misses: 0, s3Bytes: 4096 });
    await index.incrStats({ hits: 2, s3Gets: 1, verifyFailures: -1 });
    await index.incrStats({});
    expect(await index.stats()).toEqual({ hits: 5, s3Bytes: 4096, s3Gets: 1, verifyFailures: -1 });
  });

  it('clear removes every key of the index namespace', async () => {
    const { index, ns } = freshIndex();
    await index.admit('a', 1, 1);
    await index.admit('b', 2, 2);
    await index.incrStats({ hits: 1 });
    await index.evictTo(2);
    expect((await keysOf(redis, ns)).sort()).toEqual(Object.values(indexKeys(ns)).sort());
    await index.clear();
    expect(await keysOf(redis, ns)).toEqual([]);
    expect(await index.totals()).toEqual({ usedBytes: 0, chunkCount: 0 });
    expect(await index.stats()).toEqual({});
  });

  it('rejects bad arguments with IndexError BAD_ARGUMENT before touching Redis', async () => {
    const { index, ns } = freshIndex();
    const bad = IndexScriptCode.BAD_ARGUMENT;
    await expectIndexError(index.admit('a', -1), bad);
    await expectIndexError(index.admit('a', 1.5), bad);
    await expectIndexError(index.admit('a', Number.NaN), bad);
    await expectIndexError(index.admit('a', 1, 1.25), bad);
    await expectIndexError(index.admit('', 1), bad);
    await expectIndexError(index.touch(['a'], -5), bad);
    await expectIndexError(index.evictTo(-1), bad);
    await expectIndexError(index.evictTo(0, 0.5), bad);
    await expectIndexError(index.incrStats({ hits: 0.5 }), bad);
    await expectIndexError(
      Promise.resolve().then(() => index.scan(0)[Symbol.asyncIterator]().next()),
      bad,
    );
    expect(() => new ChunkIndex(redis, 'a{b}')).toThrow(IndexError);
    expect(() => new ChunkIndex(redis, '')).toThrow(IndexError);
    expect(await keysOf(redis, ns)).toEqual([]);
  });

  it('the Lua scripts themselves reject bad arguments without changing anything', async () => {
    const { index, ns } = freshIndex();
    const { lru, size, used, stats } = indexKeys(ns);
    await index.admit('a', 10, 1);
    const admit = (args: string[]) => runScript(redis, 'test', 'admitChunk', [lru, size, used], args);
    for (const badSize of ['-5', '1.5', 'nan', 'inf', '1e3', '0x10', ' 7', '', '99999999999999999']) {
      const err = await expectIndexError(admit(['b', badSize, '1']), IndexScriptCode.BAD_ARGUMENT);
      expect(err.message).toMatch(/size must be a non-negative integer/);
    }
    await expectIndexError(admit(['b', '1', '-1']), IndexScriptCode.BAD_ARGUMENT);
    await expectIndexError(admit(['', '1', '1']), IndexScriptCode.BAD_ARGUMENT);
    await expectIndexError(runScript(redis, 'test', 'touchChunks', [lru], ['12.5', 'a']), IndexScriptCode.BAD_ARGUMENT);
    await expectIndexError(runScript(redis, 'test', 'evictToTarget', [lru, size, used, stats], ['-1', '10']), IndexScriptCode.BAD_ARGUMENT);
    expect(await index.totals()).toEqual({ usedBytes: 10, chunkCount: 1 });
    expect(await redis.zscore(lru, 'a')).toBe('1');
  });
});
