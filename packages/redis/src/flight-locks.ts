import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { IndexScriptCode, assertInteger, assertKey } from './errors.js';
import { assertNamespace, flightKey } from './keys.js';
import { guard, registerScripts, runScript } from './script-loader.js';

/**
 * Single-flight locks across processes (keys `{namespace}:flight:<chunkKey>`): SET NX PX to take,
 * compare-and-delete / compare-and-expire Lua scripts to release / extend with the owner's token.
 */
export class FlightLocks {
  /** Bind to the locks of `namespace` on `redis`. */
  constructor(
    private readonly redis: Redis,
    readonly namespace: string,
  ) {
    assertNamespace('FlightLocks', namespace);
    registerScripts(redis);
  }

  /** Try to take the lock for `ttlMs`; returns the owner token, or undefined if someone else holds it. */
  async acquire(chunkKey: string, ttlMs: number): Promise<string | undefined> {
    const op = 'FlightLocks.acquire';
    assertKey(op, 'chunkKey', chunkKey);
    assertInteger(op, 'ttlMs', ttlMs, 1);
    const token = randomUUID();
    const reply = await guard(op, () => this.redis.set(flightKey(this.namespace, chunkKey), token, 'PX', ttlMs, 'NX'));
    return reply === 'OK' ? token : undefined;
  }

  /** Release the lock if `token` still owns it; returns false if it expired or belongs to someone else. */
  async release(chunkKey: string, token: string): Promise<boolean> {
    const op = 'FlightLocks.release';
    assertKey(op, 'chunkKey', chunkKey);
    assertKey(op, 'token', token);
    const { code } = await runScript(this.redis, op, 'releaseLock', [flightKey(this.namespace, chunkKey)], [token], [IndexScriptCode.NOT_FOUND, IndexScriptCode.NOT_OWNER]);
    return code === IndexScriptCode.OK;
  }

  /** Reset the lock's time to live to `ttlMs` if `token` still owns it; returns false otherwise. */
  async extend(chunkKey: string, token: string, ttlMs: number): Promise<boolean> {
    const op = 'FlightLocks.extend';
    assertKey(op, 'chunkKey', chunkKey);
    assertKey(op, 'token', token);
    assertInteger(op, 'ttlMs', ttlMs, 1);
    const { code } = await runScript(this.redis, op, 'extendLock', [flightKey(this.namespace, chunkKey)], [token, ttlMs], [IndexScriptCode.NOT_FOUND, IndexScriptCode.NOT_OWNER]);
    return code === IndexScriptCode.OK;
  }
}
