import { connectBus, type NatsConnection } from '@larder/bus';
import type { Config } from '@larder/config';
import { ChunkIndex, FlightLocks, createRedis, type Redis } from '@larder/redis';
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

/** Open the connections a service needs, named after the service for NATS monitoring. */
export async function connectNodeDeps(config: Config, name: string): Promise<NodeDeps> {
  const redis = createRedis({ url: config.redis.url });
  const log = createLogger(name);
  let lastRedisError = 0;
  redis.on('error', (err: Error) => {
    // ioredis reconnects by itself; say so at most every 10 s instead of once per attempt.
    if (Date.now() - lastRedisError > 10_000) log.warn('Redis connection error (reconnecting)', { err: err.message });
    lastRedisError = Date.now();
  });
  let nc: NatsConnection;
  try {
    nc = await connectBus({ servers: config.nats.servers, name: `${config.namespace}-${name}` });
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
