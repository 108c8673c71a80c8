import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { IndexError, IndexScriptCode } from './errors.js';
import { FlightLocks } from './flight-locks.js';
import { flightKey } from './keys.js';
import { runScript } from './script-loader.js';
import { cleanup, connect, testNamespace } from './test-redis.js';

const ns = testNamespace('flight-locks');
const connections = connect(4);
const redis = connections[0]!;
const locks = new FlightLocks(redis, ns);

afterAll(() => cleanup(ns, connections));

describe('FlightLocks', () => {
  it('lets exactly one of 20 concurrent acquirers win', async () => {
    const all = connections.map((c) => new FlightLocks(c, ns));
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => all[i % 4]!.acquire('demo/race', 5_000)));
    const winners = tokens.filter((t) => t !== undefined);
    expect(winners).toHaveLength(1);
    expect(await redis.get(flightKey(ns, 'demo/race'))).toBe(winners[0]);
    expect(await redis.pttl(flightKey(ns, 'demo/race'))).toBeGreaterThan(4_000);
  });

  it('releases only with the owner token', async () => {
    const token = await locks.acquire('demo/rel', 5_000);
    expect(token).toBeTypeOf('string');
    expect(await locks.release('demo/rel', 'not-the-token')).toBe(false);
    expect(await locks.acquire('demo/rel', 5_000)).toBeUndefined();
    expect(await locks.release('demo/rel', token!)).toBe(true);
    expect(await locks.release('demo/rel', token!)).toBe(false);
    expect(await locks.acquire('demo/rel', 5_000)).toBeTypeOf('string');
  });

  it('expires, after which the old owner can neither release nor extend', async () => {
    const old = await locks.acquire('demo/exp', 40);
    expect(old).toBeTypeOf('string');
    await sleep(80);
    const next = await locks.acquire('demo/exp', 5_000);
    expect(next).toBeTypeOf('string');
    expect(next).not.toBe(old);
    expect(await locks.release('demo/exp', old!)).toBe(false);
    expect(await locks.extend('demo/exp', old!, 5_000)).toBe(false);
    expect(await redis.get(flightKey(ns, 'demo/exp'))).toBe(next);
  });

  it('extends only with the owner token', async () => {
    const token = await locks.acquire('demo/ext', 60);
    expect(await locks.extend('demo/ext', 'not-the-token', 5_000)).toBe(false);
    expect(await locks.extend('demo/ext', token!, 5_000)).toBe(true);
    await sleep(100);
    expect(await locks.acquire('demo/ext', 5_000)).toBeUndefined();
    expect(await redis.pttl(flightKey(ns, 'demo/ext'))).toBeGreaterThan(4_000);
    expect(await locks.extend('demo/never', token!, 5_000)).toBe(false);
  });

  it('rejects bad arguments with IndexError BAD_ARGUMENT', async () => {
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => 'resolved',
        (e: unknown) => (e instanceof IndexError ? e.code : e),
      );
    expect(await codeOf(locks.acquire('demo/bad', 0))).toBe(IndexScriptCode.BAD_ARGUMENT);
    expect(await codeOf(locks.acquire('', 100))).toBe(IndexScriptCode.BAD_ARGUMENT);
    expect(await codeOf(locks.extend('demo/bad', 't', 1.5))).toBe(IndexScriptCode.BAD_ARGUMENT);
    expect(await codeOf(locks.release('demo/bad', ''))).toBe(IndexScriptCode.BAD_ARGUMENT);
    const key = flightKey(ns, 'demo/bad');
    expect(await codeOf(runScript(redis, 'test', 'extendLock', [key], ['t', '0']))).toBe(IndexScriptCode.BAD_ARGUMENT);
    expect(await codeOf(runScript(redis, 'test', 'extendLock', [key], ['t', '-10']))).toBe(IndexScriptCode.BAD_ARGUMENT);
    expect(await codeOf(runScript(redis, 'test', 'releaseLock', [key], ['']))).toBe(IndexScriptCode.BAD_ARGUMENT);
  });
});
