import { busOptionsFrom, connectBus, type NatsConnection } from '@larder/bus';
import type { Config } from '@larder/config';
import { ChunkIndex, FlightLocks, createRedis, redisConnected, redisOptionsFrom, type Redis } from '@larder/redis';
import { createLogger } from '@larder/telemetry';
import { Volume } from '@larder/volume';

/** The connections every process of a cache node shares: NATS, Redis (index and locks) and the volume. */
export interface NodeDeps {
  nc: NatsConnection;
  redis: Redis;
  index: ChunkIndex;
  locks: FlightLocks;
  volume: Volume;
  close(): Promise<void>;
}

/**
 * Open the connections a service needs, named after the service for NATS monitoring. A Redis or NATS that refuses the
 * credentials or TLS stops the start with an error naming the server (RedisAuthError, BusConnectError); a Redis that
 * is merely down does not (commands fail with 503 until it is back).
 */
export async function connectNodeDeps(config: Config, name: string): Promise<NodeDeps> {
  const redis = createRedis(redisOptionsFrom(config));
  const log = createLogger(name);
  let lastRedisError = 0;
  redis.on('error', (err: Error) => {
    // ioredis reconnects by itself; say so at most every 10 s instead of once per attempt.
    if (Date.now() - lastRedisError > 10_000) log.warn('Redis connection error (reconnecting)', { err: err.message });
    lastRedisError = Date.now();
  });
  let nc: NatsConnection;
  try {
    await redisConnected(redis);
    nc = await connectBus(busOptionsFrom(config, `${config.namespace}-${name}`));
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return {
    nc,
    redis,
    index: new ChunkIndex(redis, config.namespace),
    locks: new FlightLocks(redis, config.namespace),
    volume: new Volume(config.volume.path, config.namespace, { fsync: config.volume.fsync }),
    close: async () => {
      await nc.drain().catch(() => nc.close());
      redis.disconnect();
    },
  };
}
