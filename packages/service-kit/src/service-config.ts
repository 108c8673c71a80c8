import { connectBus, type NatsConnection } from '@larder/bus';
import type { Config } from '@larder/config';
import { ConfigCache, configTtlFromEnv, liveConfig, type ConfigCacheStatus } from '@larder/config-cache';
import { createLogger } from '@larder/telemetry';

/** The config of a standalone service process, kept current by the config-service. */
export interface ServiceConfig {
  /** A Config whose fields follow the cache (for code that keeps a Config value). */
  readonly live: Config;
  /** The hot-path getter. */
  config(): Config;
  configStatus(): ConfigCacheStatus;
  readonly cache: ConfigCache;
  close(): Promise<void>;
}

/**
 * Connect a process's config cache: its own NATS connection, `initial` (the config loaded at start) in
 * force until the config-service answers, and kept when it does not. TTL from LARDER_CONFIG_TTL.
 */
export async function connectServiceConfig(initial: Config, name: string, opts: { ttlMs?: number } = {}): Promise<ServiceConfig> {
  const nc: NatsConnection = await connectBus({ servers: initial.nats.servers, name: `${initial.namespace}-${name}-config` });
  try {
    const cache = await ConfigCache.start({
      nc,
      namespace: initial.namespace,
      ttlMs: opts.ttlMs ?? configTtlFromEnv(),
      initial,
      log: createLogger(`${name}.config`),
    });
    return {
      live: liveConfig(() => cache.current()),
      config: () => cache.current(),
      configStatus: () => cache.status(),
      cache,
      close: async () => {
        await cache.stop();
        await nc.drain().catch(() => nc.close());
      },
    };
  } catch (err) {
    await nc.close();
    throw err;
  }
}
