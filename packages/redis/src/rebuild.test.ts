import { afterAll, describe, expect, it } from 'vitest';
import { StatusError, statusOf } from '@larder/errors';
import { ChunkIndex } from './chunk-index.js';
import { createRedis } from './connection.js';
import { IndexError, IndexScriptCode, RedisUnavailableError } from './errors.js';
import { FlightLocks } from './flight-locks.js';
import { indexKeys } from './keys.js';
import { cleanup, connect, keysOf, startOwnRedis, testNamespace } from './test-redis.js';

const base = testNamespace('rebuild');
const connections = connect(1);
const redis = connections[0]!;
let seq = 0;
const fresh = () => {
  const ns = `${base}.${++seq}`;
  return { ns, index: new ChunkIndex(redis, ns) };
};

afterAll(() => cleanup(base, connections));

describe('index rebuild', () => {
  it('builds under temporary keys and replaces the live index atomically with the epoch marker', async () => {
    const { ns, index } = fresh();
    expect((await index.probe()).epoch).toBeUndefined();
    expect((await index.probe()).runId).toMatch(/^\w{40}$/);
    await index.admit('demo/old', 999, 1_000);
    const rebuild = index.beginRebuild({ nowMs: 50_000 });
    expect(
      await rebuild.add([
        { key: 'demo/a', size: 10, lastUsedMs: 2_000 },
        { key: 'demo/b', size: 20, lastUsedMs: 3_000 },
        { key: 'demo/a', size: 10, lastUsedMs: 4_000 },
      ]),
    ).toEqual({ usedBytes: 30, chunkCount: 2 });
    // The live index is untouched until the commit; the temporary keys expire if the rebuilder dies.
    expect(await index.totals()).toEqual({ usedBytes: 999, chunkCount: 1 });
    const temp = (await keysOf(redis, ns)).filter((k) => k.includes(':rebuild:'));
    expect(temp).toHaveLength(3);
    for (const k of temp) expect(await redis.pttl(k)).toBeGreaterThan(0);
    // Admitted while the rebuild ran: merged; admitted before it (score below the start): dropped with the old index.
    await index.admit('demo/new', 5, 60_000);
    await index.touch(['demo/old'], 1_000);
    const committed = await rebuild.commit('vol-1', 70_000);
    expect(committed).toMatchObject({ usedBytes: 35, chunkCount: 3, merged: 1 });
    expect(await index.totals()).toEqual({ usedBytes: 35, chunkCount: 3 });
    expect(await index.sizeOf('demo/old')).toBeUndefined();
    expect(await redis.zrange(indexKeys(ns).lru, 0, -1, 'WITHSCORES')).toEqual(['demo/b', '3000', 'demo/a', '4000', 'demo/new', '60000']);
    for (const k of [indexKeys(ns).lru, indexKeys(ns).size, indexKeys(ns).used]) expect(await redis.pttl(k)).toBe(-1);
    expect((await keysOf(redis, ns)).filter((k) => k.includes(':rebuild:'))).toEqual([]);
    expect((await index.probe()).epoch).toEqual(committed.epoch);
    expect(committed.epoch).toMatchObject({ volume: 'vol-1', builtAtMs: 70_000 });
    // clear() removes the marker with the index.
    await index.clear();
    expect((await index.probe()).epoch).toBeUndefined();
  });

  it('commits an empty rebuild as an empty index, and abort leaves the live index alone', async () => {
    const { ns, index } = fresh();
    await index.admit('demo/x', 7, 1);
    const empty = index.beginRebuild({ nowMs: 10_000 });
    expect(await empty.commit('vol-2')).toMatchObject({ usedBytes: 0, chunkCount: 0, merged: 0 });
    expect(await index.totals()).toEqual({ usedBytes: 0, chunkCount: 0 });
    const aborted = index.beginRebuild();
    await aborted.add([{ key: 'demo/y', size: 1, lastUsedMs: 1 }]);
    await aborted.abort();
    expect((await keysOf(redis, ns)).filter((k) => k.includes(':rebuild:'))).toEqual([]);
    expect((await index.probe()).epoch?.volume).toBe('vol-2');
  });

  it('refuses bad arguments without writing', async () => {
    const { ns, index } = fresh();
    const rebuild = index.beginRebuild();
    const err = await rebuild.add([{ key: 'demo/a', size: -1, lastUsedMs: 1 }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IndexError);
    expect((err as IndexError).code).toBe(IndexScriptCode.BAD_ARGUMENT);
    expect(await keysOf(redis, ns)).toEqual([]);
  });
});

describe('a Redis that goes away', () => {
  it('fails calls at once with RedisUnavailableError (503) while down, and works again after a restart', async () => {
    const own = await startOwnRedis();
    const conn = createRedis({ url: own.url, connectTimeoutMs: 500 });
    conn.on('error', () => {});
    try {
      const index = new ChunkIndex(conn, 'own');
      const locks = new FlightLocks(conn, 'own');
      await index.admit('demo/a', 1);
      const before = (await index.probe()).runId;
      await own.stop();
      for (const call of [() => index.admit('demo/b', 1), () => index.totals(), () => locks.acquire('demo/b', 1000), () => index.probe()]) {
        const err = await call().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RedisUnavailableError);
        expect(err).toBeInstanceOf(StatusError);
        expect(err).toBeInstanceOf(IndexError);
        expect((err as IndexError).code).toBe(IndexScriptCode.COMMAND_FAILED);
        expect(statusOf(err)).toBe(503);
        expect((err as Error).message).toMatch(/^cache index \(Redis\) unavailable: /);
      }
      await own.start();
      // The client reconnects by itself; the restarted server is empty and has a new run_id.
      let probe;
      for (let i = 0; i < 100 && !probe; i++) probe = await index.probe().catch(() => new Promise((r) => setTimeout(r, 50)).then(() => undefined));
      expect(probe?.runId).toBeDefined();
      expect(probe?.runId).not.toBe(before);
      expect(await index.totals()).toEqual({ usedBytes: 0, chunkCount: 0 });
    } finally {
      conn.disconnect();
      await own.stop();
    }
  });
});
