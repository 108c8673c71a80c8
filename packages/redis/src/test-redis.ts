// Test helpers (excluded from the build): real Redis, unique key namespace per test file.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createRedis } from './connection.js';

/** Redis URL of the test server. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh, random key namespace for one test file. */
export function testNamespace(label: string): string {
  return `test-${label}-${randomUUID().slice(0, 8)}`;
}

/** Open `n` separate connections to the test server. */
export function connect(n = 1): Redis[] {
  return Array.from({ length: n }, () => createRedis({ url: REDIS_URL }));
}

/** Delete every key whose hash tag starts with `base` (i.e. `{base...}:*`), then close the connections. */
export async function cleanup(base: string, connections: Redis[]): Promise<void> {
  const [redis] = connections;
  if (redis) {
    const pattern = `{${base.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  }
  await Promise.all(connections.map((c) => c.quit()));
}

/** All keys of namespace `ns` (hash tag exactly `{ns}`). */
export async function keysOf(redis: Redis, ns: string): Promise<string[]> {
  return redis.keys(`{${ns.replace(/[*?[\]\\]/g, '\\$&')}}:*`);
}

export { startOwnRedis, type OwnRedis } from './own-redis.js';
