import { loadConfig, type Config } from '@larder/config';
import { createLogger, initTelemetry, shutdownTelemetry } from '@larder/telemetry';
import { connectServiceConfig, type ServiceConfig } from './service-config.js';

/** Options of runMain. */
export interface MainOptions {
  /** Keep the config current through the config-service (default true; the config-service itself says false and runs on a fixed config). */
  configService?: boolean;
  /** How to load the config at start (default loadConfig()). */
  loadConfig?: () => Config | Promise<Config>;
}

/**
 * Run a service as its own process: load the config, start tracing, connect the service's config (see
 * connectServiceConfig: the route the stack uses too), start the service, and stop it cleanly on SIGINT/SIGTERM.
 * Exits non-zero with a clear message when start fails.
 */
export async function runMain(name: string, start: (config: ServiceConfig) => Promise<{ stop(): Promise<void> }>, opts: MainOptions = {}): Promise<void> {
  const log = createLogger(name);
  let stopping = false;
  let serviceConfig: ServiceConfig | undefined;
  try {
    const config = await (opts.loadConfig ?? loadConfig)();
    initTelemetry({ serviceName: `larder-${name}`, otlpEndpoint: config.telemetry.otlpEndpoint });
    serviceConfig = await connectServiceConfig(config, name, { configService: opts.configService });
    const running = await start(serviceConfig);
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
