import { busOptionsFrom, connectBus, type NatsConnection } from '@larder/bus';
import { readEnvironment, resolveDatastore, resolveDatastores, type Config } from '@larder/config';
import type { ConfigCache } from '@larder/config-cache';
import { startConfigService, type ConfigService } from '@larder/config-service';
import { ensureBucket, s3ClientFor } from '@larder/s3';
import { connectServiceConfig, type ServiceConfig } from '@larder/service-kit';
import { createLogger } from '@larder/telemetry';

const log = createLogger('stack');

/** The config side of a stack: the config-service (when given a file) and one config cache per service. */
export interface StackConfig {
  readonly caches: Record<string, ConfigCache>;
  service(): ConfigService | undefined;
  /** The config of the service `name` (its cache on the service's NATS connection), as a standalone service gets it. */
  forService(name: string, nc: NatsConnection): Promise<ServiceConfig>;
  startService(): Promise<void>;
  stopService(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Start the config side of a stack. Each service reads its config through its own ConfigCache (connectServiceConfig,
 * as runMain does): with `file`, fed by the config-service run on it (`cfg` until the service answers; the embedded
 * S3 endpoint filled in); without `file`, a fixed cache holding `cfg`.
 */
export async function startStackConfig(cfg: Config, opts: { file?: string; ttlMs?: number; embeddedEndpoint?: string }): Promise<StackConfig> {
  const caches: Record<string, ConfigCache> = {};
  const file = opts.file;
  const ttlMs = opts.ttlMs ?? readEnvironment().configTtlMs;
  const endpoint = opts.embeddedEndpoint;
  const transform = (c: Config): Config => (endpoint && !c.s3.endpoint ? { ...c, s3: { ...c.s3, endpoint } } : c);
  const nc = file ? await connectBus(busOptionsFrom(cfg, `${cfg.namespace}-config-service`)) : undefined;
  let svc: ConfigService | undefined;
  const startService = async () => {
    if (file && nc) svc ??= await startConfigService({ nc, file, namespace: cfg.namespace, ttlMs });
  };
  const stopService = async () => {
    const s = svc;
    svc = undefined;
    await s?.stop();
  };
  try {
    await startService();
  } catch (err) {
    await nc?.close();
    throw err;
  }
  let bucketsWatched = false;
  return {
    caches,
    service: () => svc,
    forService: async (name, serviceNc) => {
      const sc = await connectServiceConfig(cfg, name, { configService: file !== undefined, nc: serviceNc, ttlMs, transform, secretsFile: file });
      caches[name] = sc.cache;
      if (endpoint && !bucketsWatched) {
        // A datastore added on the embedded S3 gets its bucket, as at start.
        bucketsWatched = true;
        sc.cache.onChange(({ config, previous }) => {
          for (const ds of resolveDatastores(config)) {
            const before = resolveDatastore(previous, ds.name);
            if (ds.endpoint !== endpoint || (before?.endpoint === ds.endpoint && before.bucket === ds.bucket)) continue;
            ensureBucket(s3ClientFor(ds), ds.bucket).catch((err: Error) => log.warn('cannot create the bucket of a new datastore', { store: ds.name, err: err.message }));
          }
        });
      }
      return sc;
    },
    startService,
    stopService,
    stop: async () => {
      await stopService();
      if (nc) await nc.drain().catch(() => nc.close());
    },
  };
}
