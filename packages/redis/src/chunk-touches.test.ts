import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { ChunkTouches } from './chunk-touches.js';
import { createRedis } from './connection.js';
import { ClaimWaitTimeoutError, IndexError, IndexScriptCode, RedisUnavailableError } from './errors.js';
import { gcKeys, knownKey } from './keys.js';
import { KnownChunks } from './known-chunks.js';
import { cleanup, connect, keysOf, testNamespace } from './test-redis.js';
import type { Redis } from 'ioredis';

const ns = testNamespace('touches');
const connections = connect(1);
const redis = connections[0]!;
const touches = new ChunkTouches(redis, ns, { pollMs: 10 });
const known = new KnownChunks(redis, ns);

afterAll(() => cleanup(ns, connections));

const digest = () => randomBytes(32).toString('hex');
const chunks = <T>(xs: T[], n: number): T[][] => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, (i + 1) * n));
const DAY = 24 * 3600_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The Redis server's clock (the one the scripts use). */
const redisNow = async () => {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
};

describe('ChunkTouches (writers)', () => {
  it('touch: upload for new chunks, known once the upload was recorded, and it records the touch and the epoch', async () => {
    const [a, b] = [digest(), digest()];
    expect(await touches.touchEpoch('w1')).toBeUndefined();
    const before = await redisNow();
    expect(await touches.touch('w1', [a, b], DAY)).toEqual(['upload', 'upload']);
    const epoch = await touches.touchEpoch('w1');
    expect(epoch).toBeGreaterThanOrEqual(before);
    expect(Number(await redis.zscore(knownKey(ns, 'w1'), a))).toBeGreaterThanOrEqual(before);
    // Touched but the upload was not confirmed: the next writer uploads too (a writer may have died before its upload).
    expect(await touches.touch('w1', [a], DAY)).toEqual(['upload']);
    await known.record('w1', [a]);
    expect(await touches.touch('w1', [a, b], DAY)).toEqual(['known', 'upload']);
    // Older than the trust time: upload again.
    await redis.zadd(knownKey(ns, 'w1'), before - 10_000, a);
    expect(await touches.touch('w1', [a], 5_000)).toEqual(['upload']);
    // The epoch is set once.
    expect(await touches.touchEpoch('w1')).toBe(epoch);
    expect(await touches.touch('w1', [], DAY)).toEqual([]);
  });

  it('rejects bad input and changes nothing', async () => {
    await expect(touches.touch('', [digest()], DAY)).rejects.toMatchObject({ code: IndexScriptCode.BAD_ARGUMENT });
    await expect(touches.touch('bad', [digest()], -1)).rejects.toMatchObject({ code: IndexScriptCode.BAD_ARGUMENT });
    await expect(touches.touch('bad', [''], DAY)).rejects.toMatchObject({ code: IndexScriptCode.BAD_ARGUMENT });
    await expect(touches.claim('bad', 'run', [digest()], 0, 0)).rejects.toMatchObject({ code: IndexScriptCode.BAD_ARGUMENT });
    expect((await keysOf(redis, ns)).filter((k) => k.endsWith(':bad'))).toEqual([]);
  });

  it('registers writers; oldestWriter is the oldest one alive, ignores dead ones, forgets ended ones', async () => {
    const short = new ChunkTouches(redis, ns, { writerTtlMs: 150 });
    expect(await touches.oldestWriter('w2')).toBeUndefined();
    const first = await touches.beginWriter('w2', 'import');
    const second = await touches.beginWriter('w2', 'push-casync');
    expect(first.id).not.toBe(second.id);
    expect(second.startedAt).toBeGreaterThanOrEqual(first.startedAt);
    expect(await touches.oldestWriter('w2')).toBe(first.startedAt);
    await first.end();
    await first.end();
    expect(await touches.oldestWriter('w2')).toBe(second.startedAt);
    await second.end();
    expect(await touches.oldestWriter('w2')).toBeUndefined();

    // A writer whose heartbeat stops (its process died: here the heartbeat key is made to expire) no longer counts.
    const dead = await short.beginWriter('w3', 'crashed');
    const alive = await short.beginWriter('w3', 'running');
    expect(await short.oldestWriter('w3')).toBe(dead.startedAt);
    await redis.zadd(gcKeys(ns, 'w3').heartbeats, 1, dead.id);
    expect(await short.oldestWriter('w3')).toBe(alive.startedAt);
    expect(await redis.zscore(gcKeys(ns, 'w3').writers, dead.id)).toBeNull();
    // The live one keeps its heartbeat by its timer (several ttls pass).
    await sleep(500);
    expect(await short.oldestWriter('w3')).toBe(alive.startedAt);
    await alive.end();
    await dead.end();
    expect(await short.oldestWriter('w3')).toBeUndefined();
  });
});

describe('ChunkTouches (GC claims)', () => {
  it('claims only chunks last touched before the cutoff (or never), not those claimed by another run', async () => {
    const [old, fresh, never, other] = [digest(), digest(), digest(), digest()];
    const now = await redisNow();
    await redis.zadd(knownKey(ns, 'g1'), now - 2 * DAY, old, now - 2 * DAY, other);
    await touches.touch('g1', [fresh], DAY);
    const cutoff = now - DAY;
    expect(await touches.claim('g1', 'run-b', [other], cutoff, 60_000)).toEqual([other]);
    expect(await touches.claim('g1', 'run-a', [old, fresh, never, other, old], cutoff, 60_000)).toEqual([old, never]);
    // A run may claim its own claims again (renewing them).
    expect(await touches.claim('g1', 'run-a', [old], cutoff, 60_000)).toEqual([old]);
    const claims = await redis.hgetall(gcKeys(ns, 'g1').claims);
    expect(Object.keys(claims).sort()).toEqual([old, never, other].sort());
    expect(claims[old]).toMatch(/^\d+:run-a$/);
  });

  it('a writer finds claimed chunks claimed (nothing recorded), waits for the release, then touches them', async () => {
    const [a, b] = [digest(), digest()];
    expect(await touches.claim('g2', 'run', [a, b], (await redisNow()) - DAY, 60_000)).toEqual([a, b]);
    expect(await touches.touch('g2', [a, b], DAY)).toEqual(['claimed', 'claimed']);
    expect(await redis.zscore(knownKey(ns, 'g2'), a)).toBeNull();
    await expect(touches.awaitUnclaimed('g2', [a], 30)).rejects.toBeInstanceOf(ClaimWaitTimeoutError);
    const waiting = touches.awaitUnclaimed('g2', [a, b], 10_000);
    await touches.release('g2', 'run', [a], [b]);
    await waiting;
    expect(await redis.hlen(gcKeys(ns, 'g2').claims)).toBe(0);
    expect(await touches.touch('g2', [a, b], DAY)).toEqual(['upload', 'upload']);
  });

  it('release forgets deleted chunks, keeps kept ones, and leaves alone what the run no longer holds', async () => {
    const [gone, kept, takenOver] = [digest(), digest(), digest()];
    const now = await redisNow();
    await redis.zadd(knownKey(ns, 'g3'), now - 2 * DAY, gone, now - 2 * DAY, kept);
    expect(await touches.claim('g3', 'run', [gone, kept], now - DAY, 60_000)).toEqual([gone, kept]);
    expect(await touches.claim('g3', 'run', [takenOver], now - DAY, 1)).toEqual([takenOver]);
    await sleep(20);
    // The lease of takenOver expired: a writer proceeds and takes it over.
    expect(await touches.touch('g3', [takenOver], DAY)).toEqual(['upload']);
    await touches.release('g3', 'run', [gone, takenOver], [kept]);
    expect(await redis.zscore(knownKey(ns, 'g3'), gone)).toBeNull();
    expect(Number(await redis.zscore(knownKey(ns, 'g3'), kept))).toBe(now - 2 * DAY);
    expect(await redis.zscore(knownKey(ns, 'g3'), takenOver)).not.toBeNull();
    expect(await redis.hlen(gcKeys(ns, 'g3').claims)).toBe(0);
  });

  it('expired leases no longer count; renew extends a run’s live claims', async () => {
    const [a, b] = [digest(), digest()];
    const cutoff = (await redisNow()) - DAY;
    expect(await touches.claim('g4', 'run', [a, b], cutoff, 50)).toEqual([a, b]);
    await touches.renew('g4', 'run', 60_000);
    await sleep(80);
    expect(await touches.touch('g4', [a], DAY)).toEqual(['claimed']);
    await touches.renew('g4', 'run', 1);
    await sleep(20);
    // Expired: another run may claim it, a writer proceeds.
    expect(await touches.claim('g4', 'other', [b], cutoff, 60_000)).toEqual([b]);
    await touches.awaitUnclaimed('g4', [a], 1_000);
    expect(await touches.touch('g4', [a], DAY)).toEqual(['upload']);
    expect(await touches.claim('g4', 'run', [a], cutoff, 60_000)).toEqual([]);
  });

  it('the touch epoch is gone after the keys are lost (Redis lost its data) and set again by the next touch', async () => {
    await touches.touch('g5', [digest()], DAY);
    const first = await touches.touchEpoch('g5');
    expect(first).toBeDefined();
    // Delete this namespace's keys of the datastore only (as a Redis that lost its data would have none).
    const k = gcKeys(ns, 'g5');
    await redis.del(k.known, k.claims, k.epoch, k.unconfirmed, k.writers, k.heartbeats);
    expect(await touches.touchEpoch('g5')).toBeUndefined();
    await sleep(5);
    await touches.touch('g5', [digest()], DAY);
    expect(await touches.touchEpoch('g5')).toBeGreaterThan(first!);
    // GC may start it where no writer did; an existing one stays.
    const started = await touches.startTouchEpoch('g5-idle');
    expect(await touches.touchEpoch('g5-idle')).toBe(started);
    expect(await touches.startTouchEpoch('g5')).toBe(await touches.touchEpoch('g5'));
  });

  it('handles more digests than one script call takes', async () => {
    const many = Array.from({ length: 1100 }, digest);
    const answers = await touches.touch('g6', many, DAY);
    expect(answers.every((a) => a === 'upload')).toBe(true);
    const later = (await redisNow()) + 1;
    expect(await touches.claim('g6', 'run', many, later, 60_000)).toHaveLength(1100);
    expect((await touches.touch('g6', many, DAY)).every((a) => a === 'claimed')).toBe(true);
    await touches.release('g6', 'run', many.slice(0, 600), many.slice(600));
    expect(await known.count('g6')).toBe(500);
  });
});

describe('ChunkTouches (touch and claim race)', () => {
  it('a digest is either touched by a writer or claimed by GC, never both, whatever the interleaving', async () => {
    const racers = connect(4);
    try {
      for (let round = 0; round < 5; round++) {
        const store = `race${round}`;
        const digests = Array.from({ length: 300 }, digest);
        const now = await redisNow();
        // All last touched long ago: claimable, unless a writer touches them first.
        await redis.zadd(knownKey(ns, store), ...digests.flatMap((d) => [now - 2 * DAY, d]));
        const shuffled = (xs: string[]) =>
          xs
            .map((x) => [Math.random(), x] as const)
            .sort((a, b) => a[0] - b[0])
            .map(([, x]) => x);
        const touched = new Set<string>();
        const writer = async (conn: Redis) => {
          const t = new ChunkTouches(conn, ns);
          for (const batch of chunks(shuffled(digests).slice(0, 150), 7)) {
            const answers = await t.touch(store, batch, DAY);
            batch.forEach((d, i) => answers[i] !== 'claimed' && touched.add(d));
          }
        };
        const gc = async (conn: Redis) => {
          const claimed: string[] = [];
          for (const batch of chunks(shuffled(digests), 11)) claimed.push(...(await new ChunkTouches(conn, ns).claim(store, 'race-gc', batch, now - DAY, 60_000)));
          return claimed;
        };
        const [claimed] = await Promise.all([gc(racers[0]!), writer(racers[1]!), writer(racers[2]!), writer(racers[3]!)]);
        expect(claimed.filter((d) => touched.has(d))).toEqual([]);
        // And each was decided one way or the other: GC asked for all of them.
        expect(claimed.length + touched.size).toBe(digests.length);
      }
    } finally {
      await Promise.all(racers.map((c) => c.quit()));
    }
  });
});

describe('ChunkTouches without Redis', () => {
  it('rejects with RedisUnavailableError: a writer of an owned datastore must not write unrecorded', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as net.AddressInfo;
        srv.close(() => resolve(port));
      });
    });
    const conn = createRedis({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 200 });
    conn.on('error', () => {});
    const down = new ChunkTouches(conn, ns);
    try {
      const err = await down.touch('down', [digest()], DAY).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RedisUnavailableError);
      expect((err as IndexError).status).toBe(503);
      await expect(down.beginWriter('down', 'import')).rejects.toBeInstanceOf(RedisUnavailableError);
      await expect(down.claim('down', 'run', [digest()], 0, 1000)).rejects.toBeInstanceOf(IndexError);
      await expect(down.awaitUnclaimed('down', [digest()], 1000)).rejects.toBeInstanceOf(RedisUnavailableError);
    } finally {
      conn.disconnect();
    }
  });
});
