import type { Config, ResolvedDatastore } from '@larder/config';
import type { OwnedWrites } from '@larder/datastore';
import { ChunkTouches, KnownChunks, createRedis, redisOptionsFrom } from '@larder/redis';

/**
 * Run a write to `ds` with the GC protocol's record (Redis of the config) when Larder owns the datastore, else without;
 * the connection is closed afterwards. A Redis that cannot record a touch fails the write (see ChunkTouches).
 */
export async function withOwnedWrites<T>(config: Config, ds: ResolvedDatastore, fn: (owned: OwnedWrites | undefined) => Promise<T>): Promise<T> {
  if (!ds.owned) return fn(undefined);
  const redis = createRedis(redisOptionsFrom(config));
  redis.on('error', () => {}); // failures reach the caller as RedisUnavailableError
  try {
    return await fn({
      touches: new ChunkTouches(redis, config.namespace),
      known: new KnownChunks(redis, config.namespace),
      trustMs: config.gateway.knownChunkTtl,
    });
  } finally {
    redis.disconnect();
  }
}
