import { busOptionsFrom, connectBus, type NatsConnection } from '@larder/bus';
import { configPath, readConfigFileLenient, readEnvironment, type Config } from '@larder/config';
import { ConfigCache, type ConfigCacheStatus } from '@larder/config-cache';
import { createLogger } from '@larder/telemetry';

/**
 * The config of one service: the one route by which every service reads its config, run alone (runMain)
 * or in the stack. A ConfigCache fed by the config-service, or a fixed one when there is none.
 */
export interface ServiceConfig {
  readonly cache: ConfigCache;
  /** The hot-path getter: the config in force (a field read). */
  readonly config: () => Config;
  /** The cache's status for `/v1/status`; undefined without a config-service. */
  readonly configStatus: (() => ConfigCacheStatus) | undefined;
  /** Stop the cache (and close its NATS connection when it opened one). */
  close(): Promise<void>;
}

/** Options of {@link connectServiceConfig}. */
export interface ServiceConfigOptions {
  /** `false`: no config-service, `initial` stays in force (a fixed cache). Default true. */
  configService?: boolean;
  /** The NATS connection for the cache (not closed by `close`); default a connection of its own. */
  nc?: NatsConnection;
  /** Generation check TTL (ms); default LARDER_CONFIG_TTL or 60 s. */
  ttlMs?: number;
  /** Applied to every config the config-service serves (the stack fills in the embedded S3 endpoint). */
  transform?: (config: Config) => Config;
  /** The service's own config file, whose secrets fill in those the config-service serves redacted; default LARDER_CONFIG or ./larder.yaml. */
  secretsFile?: string;
}

/**
 * Connect the config of the service `name`: a cache with `initial` (the config loaded at start) in force until
 * the config-service answers, and kept when it does not; with `configService: false`, `initial` for good.
 */
export async function connectServiceConfig(initial: Config, name: string, opts: ServiceConfigOptions = {}): Promise<ServiceConfig> {
  const log = createLogger(`${name}.config`);
  if (opts.configService === false) {
    const cache = ConfigCache.fixed(initial, { log });
    return { cache, config: () => cache.current(), configStatus: undefined, close: () => cache.stop() };
  }
  const own = !opts.nc;
  const nc: NatsConnection = opts.nc ?? (await connectBus(busOptionsFrom(initial, `${initial.namespace}-${name}-config`)));
  try {
    const environment = readEnvironment();
    const secretsFile = opts.secretsFile ?? configPath(environment);
    const cache = await ConfigCache.start({
      nc,
      namespace: initial.namespace,
      ttlMs: opts.ttlMs ?? environment.configTtlMs,
      initial,
      transform: opts.transform,
      log,
      // Secrets are not served over NATS to callers without an admin token: the service's own file (and env) has them.
      token: environment.token,
      localSecrets: () => readConfigFileLenient(secretsFile),
    });
    return {
      cache,
      config: () => cache.current(),
      configStatus: () => cache.status(),
      close: async () => {
        await cache.stop();
        if (own) await nc.drain().catch(() => nc.close());
      },
    };
  } catch (err) {
    if (own) await nc.close();
    throw err;
  }
}
