import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedis } from './connection.js';
import type { IndexError } from './errors.js';
import { knownKey } from './keys.js';
import { KnownChunks } from './known-chunks.js';
import { cleanup, connect, startOwnRedis, testNamespace } from './test-redis.js';

const ns = testNamespace('known');
const connections = connect(1);
const redis = connections[0]!;
const known = new KnownChunks(redis, ns);

afterAll(() => cleanup(ns, connections));

const digest = () => randomBytes(32).toString('hex');
const DAY = 24 * 3600_000;

describe('KnownChunks', () => {
  it('records digests per datastore under {ns}:known:<store> and believes them within the ttl', async () => {
    const [a, b, c] = [digest(), digest(), digest()];
    expect(await known.record('demo', [a, b, a], 1_000_000)).toBe(true);
    expect(await redis.zscore(knownKey(ns, 'demo'), a)).toBe('1000000');
    expect(await known.known('demo', [a, c, b], DAY, 1_000_000 + 5)).toEqual([true, false, true]);
    // Another datastore knows nothing of these.
    expect(await known.known('cas', [a, b], DAY, 1_000_000)).toEqual([false, false]);
    // Older than the ttl: not believed.
    expect(await known.known('demo', [a, b], 100, 1_000_200)).toEqual([false, false]);
    expect(await known.known('demo', [a], 100, 1_000_100)).toEqual([true]);
    expect(await known.known('demo', [], DAY)).toEqual([]);
  });

  it('recording again refreshes the time', async () => {
    const d = digest();
    await known.record('demo', [d], 1_000);
    await known.record('demo', [d], 9_000);
    expect(await known.known('demo', [d], 1_000, 9_500)).toEqual([true]);
  });

  it('forgets, and answers many digests in batches', async () => {
    const many = Array.from({ length: 1200 }, digest);
    await known.record('big', many);
    expect((await known.known('big', many, DAY)).every(Boolean)).toBe(true);
    await known.forget('big', many.slice(0, 700));
    const after = await known.known('big', many, DAY);
    expect(after.filter(Boolean)).toHaveLength(500);
    expect(after.slice(700).every(Boolean)).toBe(true);
    expect(await known.count('big')).toBe(500);
  });

  it('trims records older than asked, and now and then on record with retainMs', async () => {
    const [old, fresh] = [digest(), digest()];
    await known.record('trim', [old], 1_000);
    await known.record('trim', [fresh], 5_000);
    expect(await known.trim('trim', 2_000, 5_000)).toBe(1);
    expect(await known.count('trim')).toBe(1);

    const trimming = new KnownChunks(redis, ns, { retainMs: () => 1_000, trimIntervalMs: 10_000 });
    await known.record('trim2', [old], 1_000);
    await trimming.record('trim2', [fresh], 5_000);
    expect(await redis.zrange(knownKey(ns, 'trim2'), 0, -1)).toEqual([fresh]);
    // Within the trim interval: no trim.
    await known.record('trim2', [old], 1_000);
    await trimming.record('trim2', [digest()], 6_000);
    expect(await known.count('trim2')).toBe(3);
  });

  it('recordSoon gathers what many callers record into one write per datastore', async () => {
    const own = await startOwnRedis();
    const conn = createRedis({ url: own.url });
    const k = new KnownChunks(conn, ns);
    const zadds = async () => Number(/cmdstat_zadd:calls=(\d+)/.exec(await conn.info('commandstats'))?.[1] ?? 0);
    try {
      const a = Array.from({ length: 40 }, digest);
      const b = Array.from({ length: 3 }, digest);
      const before = await zadds();
      for (const d of a) k.recordSoon('demo', d);
      for (const d of b) k.recordSoon('cas', d);
      expect(await k.known('demo', a, DAY)).toEqual(a.map(() => false));
      // Sent on its own after a moment; flush() sends at once (a stopping process).
      for (let i = 0; i < 100 && !(await k.known('demo', a, DAY)).every(Boolean); i++) await new Promise((r) => setTimeout(r, 10));
      expect((await k.known('demo', a, DAY)).every(Boolean)).toBe(true);
      expect((await k.known('cas', b, DAY)).every(Boolean)).toBe(true);
      expect((await zadds()) - before).toBe(2);
      const c = digest();
      k.recordSoon('demo', c);
      expect(await k.flush()).toBe(true);
      expect(await k.known('demo', [c], DAY)).toEqual([true]);
    } finally {
      conn.disconnect();
      await own.stop();
    }
  });

  it('degrades while Redis is unreachable: nothing known, recording reported and not thrown', async () => {
    const own = await startOwnRedis();
    const conn = createRedis({ url: own.url });
    conn.on('error', () => {});
    const errors: [string, IndexError][] = [];
    const k = new KnownChunks(conn, ns, { onError: (op, err) => errors.push([op, err]) });
    try {
      const d = digest();
      expect(await k.record('demo', [d])).toBe(true);
      expect(await k.known('demo', [d], DAY)).toEqual([true]);
      await own.stop();
      expect(await k.known('demo', [d, digest()], DAY)).toEqual([false, false]);
      expect(await k.record('demo', [d])).toBe(false);
      expect(await k.forget('demo', [d])).toBe(false);
      expect(errors.map(([op]) => op)).toEqual(['KnownChunks.known', 'KnownChunks.record', 'KnownChunks.forget']);
      expect(errors[0]![1].status).toBe(503);
    } finally {
      conn.disconnect();
      await own.stop();
    }
  });
});
