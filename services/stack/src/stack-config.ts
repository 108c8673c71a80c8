import { connectBus, type NatsConnection } from '@larder/bus';
import { resolveDatastore, resolveDatastores, type Config } from '@larder/config';
import { ConfigCache, configTtlFromEnv, type ConfigCacheStatus } from '@larder/config-cache';
import { startConfigService, type ConfigService } from '@larder/config-service';
import { ensureBucket, s3ClientFor } from '@larder/s3';
import { createLogger } from '@larder/telemetry';

const log = createLogger('stack');

/** What one service of the stack gets: its config getter and, with a config-service, its cache's status. */
export interface ServiceConfigHandle {
  config: () => Config;
  configStatus?: () => ConfigCacheStatus;
  stop(): Promise<void>;
}

/** The config side of a stack: the config-service (when given a file) and one cache per service. */
export interface StackConfig {
  readonly caches: Record<string, ConfigCache>;
  service(): ConfigService | undefined;
  /** A config getter for the service `name` on its own NATS connection. */
  forService(name: string, nc: NatsConnection): Promise<ServiceConfigHandle>;
  startService(): Promise<void>;
  stopService(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Start the config side of a stack. With `file`, run the config-service on it; each service then reads
 * through its own ConfigCache (`cfg` until the service answers; the embedded S3 endpoint filled in).
 * Without `file`, every service gets the static `cfg`.
 */
export async function startStackConfig(cfg: Config, opts: { file?: string; ttlMs?: number; embeddedEndpoint?: string }): Promise<StackConfig> {
  const caches: Record<string, ConfigCache> = {};
  if (!opts.file) {
    return {
      caches,
      service: () => undefined,
      forService: async () => ({ config: () => cfg, stop: async () => {} }),
      startService: async () => {},
      stopService: async () => {},
      stop: async () => {},
    };
  }
  const file = opts.file;
  const ttlMs = opts.ttlMs ?? configTtlFromEnv();
  const endpoint = opts.embeddedEndpoint;
  const transform = (c: Config): Config => (endpoint && !c.s3.endpoint ? { ...c, s3: { ...c.s3, endpoint } } : c);
  const nc = await connectBus({ servers: cfg.nats.servers, name: `${cfg.namespace}-config-service` });
  let svc: ConfigService | undefined;
  const startService = async () => {
    svc ??= await startConfigService({ nc, file, namespace: cfg.namespace, ttlMs });
  };
  const stopService = async () => {
    const s = svc;
    svc = undefined;
    await s?.stop();
  };
  try {
    await startService();
  } catch (err) {
    await nc.close();
    throw err;
  }
  let bucketsWatched = false;
  return {
    caches,
    service: () => svc,
    forService: async (name, serviceNc) => {
      const cache = await ConfigCache.start({ nc: serviceNc, namespace: cfg.namespace, ttlMs, initial: cfg, transform, log: createLogger(`${name}.config`) });
      caches[name] = cache;
      if (endpoint && !bucketsWatched) {
        // A datastore added on the embedded S3 gets its bucket, as at start.
        bucketsWatched = true;
        cache.onChange(({ config, previous }) => {
          for (const ds of resolveDatastores(config)) {
            const before = resolveDatastore(previous, ds.name);
            if (ds.endpoint !== endpoint || (before?.endpoint === ds.endpoint && before.bucket === ds.bucket)) continue;
            ensureBucket(s3ClientFor(ds), ds.bucket).catch((err: Error) => log.warn('cannot create the bucket of a new datastore', { store: ds.name, err: err.message }));
          }
        });
      }
      return { config: () => cache.current(), configStatus: () => cache.status(), stop: () => cache.stop() };
    },
    startService,
    stopService,
    stop: async () => {
      await stopService();
      await nc.drain().catch(() => nc.close());
    },
  };
}
