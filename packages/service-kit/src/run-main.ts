import { loadConfig, type Config } from '@larder/config';
import type { ConfigCacheStatus } from '@larder/config-cache';
import { createLogger, initTelemetry, shutdownTelemetry } from '@larder/telemetry';
import { connectServiceConfig, type ServiceConfig } from './service-config.js';

/** What runMain hands a service besides its config. */
export interface MainContext {
  /** The hot-path config getter (the config cache's, or the loaded config when the cache is off). */
  config: () => Config;
  /** The config cache's status, for `/v1/status` (undefined when the cache is off). */
  configStatus?: () => ConfigCacheStatus;
}

/** Options of runMain. */
export interface MainOptions {
  /** Keep the config current through the config-service (default true; the config-service itself says false). */
  configCache?: boolean;
  /** How to load the config at start (default loadConfig()). */
  loadConfig?: () => Config;
}

/**
 * Run a service as its own process: load the config, start tracing, start the service,
 * and stop it cleanly on SIGINT/SIGTERM. Exits non-zero with a clear message when start fails.
 * Unless `configCache: false`, `config` is a live view of a config cache fed by the config-service,
 * so that getters `() => config` follow config changes without a restart.
 */
export async function runMain(
  name: string,
  start: (config: Config, ctx: MainContext) => Promise<{ stop(): Promise<void> }>,
  opts: MainOptions = {},
): Promise<void> {
  const log = createLogger(name);
  let stopping = false;
  let serviceConfig: ServiceConfig | undefined;
  try {
    const config = (opts.loadConfig ?? loadConfig)();
    initTelemetry({ serviceName: `larder-${name}`, otlpEndpoint: config.telemetry.otlpEndpoint });
    if (opts.configCache !== false) serviceConfig = await connectServiceConfig(config, name);
    const running = serviceConfig
      ? await start(serviceConfig.live, { config: serviceConfig.config, configStatus: serviceConfig.configStatus })
      : await start(config, { config: () => config });
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info('stopping', { signal });
      await running.stop();
      await serviceConfig?.close();
      await shutdownTelemetry();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  } catch (err) {
    await serviceConfig?.close().catch(() => {});
    process.stderr.write(`larder ${name}: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
