import { busOptionsFrom, type BusConnectOptions } from '@larder/bus';
import { configFromMapping } from '@larder/config';
import { redisOptionsFrom, type RedisOptions } from '@larder/redis';

// The harness's own connections take the credentials and TLS of the environment (LARDER_REDIS_PASSWORD,
// LARDER_NATS_USER, ...), as the Larder processes it starts (which inherit that environment) do.

/** Options for the harness's Redis connection to `url`. */
export function benchRedisOptions(url: string): RedisOptions {
  return redisOptionsFrom(configFromMapping({ redis: { url } }, { source: 'bench', baseDir: process.cwd() }));
}

/** Options for a harness NATS connection `name` to `servers`. */
export function benchBusOptions(servers: string, name: string): BusConnectOptions {
  return busOptionsFrom(configFromMapping({ nats: { servers } }, { source: 'bench', baseDir: process.cwd() }), name);
}
