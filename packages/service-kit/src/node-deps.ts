import { busOptionsFrom, connectBus, type NatsConnection } from '@larder/bus';
import type { Config } from '@larder/config';
import { addBudgetSource, s3BudgetThrottled, s3BudgetWait } from '@larder/metrics';
import { ChunkIndex, FlightLocks, RequestBudgets, createRedis, redisConnected, redisOptionsFrom, type Redis } from '@larder/redis';
import { useRequestBudgets } from '@larder/s3';
import { createLogger } from '@larder/telemetry';
import { Volume } from '@larder/volume';

/** The connections every process of a cache node shares: NATS, Redis (index and locks) and the volume. */
export interface NodeDeps {
  nc: NatsConnection;
  redis: Redis;
  index: ChunkIndex;
  locks: FlightLocks;
  volume: Volume;
  /** The node's S3 request budgets (config `budgets`), installed for every S3 request of this process. */
  budgets: RequestBudgets;
  close(): Promise<void>;
}

/**
 * Open the connections a service needs, named after the service for NATS monitoring. A Redis or NATS that refuses the
 * credentials or TLS stops the start with an error naming the server (RedisAuthError, BusConnectError); a Redis that
 * is merely down does not (commands fail with 503 until it is back). `config` may be a function (read again for the
 * budgets' settings, so reloads apply).
 */
export async function connectNodeDeps(configOrLatest: Config | (() => Config), name: string): Promise<NodeDeps> {
  const latest = typeof configOrLatest === 'function' ? configOrLatest : () => configOrLatest;
  const config = latest();
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
  const budgets = new RequestBudgets(redis, config.namespace, () => latest().budgets, {
    observer: {
      throttled: (budget, cls) => s3BudgetThrottled.inc({ budget, class: cls }),
      waited: (budget, cls, seconds) => s3BudgetWait.observe({ budget, class: cls }, seconds),
      degraded: (budget, share, err) => log.warn('Redis unreachable: this process keeps to its share of the S3 request budget', { budget, share, err: err.message }),
    },
  });
  const uninstall = useRequestBudgets(budgets);
  const removeSource = addBudgetSource(async () =>
    (await budgets.status()).flatMap((b) => Object.entries(b.classes).map(([cls, c]) => ({ budget: b.name, class: cls, rate: c.rate, waiting: c.waiting }))),
  );
  return {
    nc,
    redis,
    budgets,
    index: new ChunkIndex(redis, config.namespace),
    locks: new FlightLocks(redis, config.namespace),
    volume: new Volume(config.volume.path, config.namespace, { fsync: config.volume.fsync }),
    close: async () => {
      removeSource();
      uninstall();
      budgets.close();
      await nc.drain().catch(() => nc.close());
      redis.disconnect();
    },
  };
}
