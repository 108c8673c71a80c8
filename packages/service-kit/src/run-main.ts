import { loadConfig, type Config } from '@larder/config';
import { parseListen } from '@larder/config';
import { initMetrics, serveMetrics, type MetricsServer } from '@larder/metrics';
import { createLogger, initTelemetry, shutdownTelemetry } from '@larder/telemetry';
import { connectServiceConfig, type ServiceConfig } from './service-config.js';

/** Options of runMain. */
export interface MainOptions {
  /** Keep the config current through the config-service (default true; the config-service itself says false and runs on a fixed config). */
  configService?: boolean;
  /** How to load the config at start (default loadConfig()). */
  loadConfig?: () => Config | Promise<Config>;
  /** Where this process serves `/metrics` on its own (`metrics.*Listen`); none for the gateway, which serves it on its HTTP port. */
  metricsListen?: (config: Config) => string | false;
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
  let metrics: MetricsServer | undefined;
  try {
    const config = await (opts.loadConfig ?? loadConfig)();
    initTelemetry({ serviceName: `larder-${name}`, otlpEndpoint: config.telemetry.otlpEndpoint });
    initMetrics(name);
    metrics = await startMetrics(opts.metricsListen?.(config), log);
    serviceConfig = await connectServiceConfig(config, name, { configService: opts.configService });
    const running = await start(serviceConfig);
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info('stopping', { signal });
      await running.stop();
      await metrics?.stop();
      await serviceConfig?.close();
      await shutdownTelemetry();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  } catch (err) {
    await serviceConfig?.close().catch(() => {});
    await metrics?.stop().catch(() => {});
    process.stderr.write(`larder ${name}: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

/** The process's own `/metrics` endpoint, when configured. A port taken (several fetchers on one host) costs the metrics, not the service. */
async function startMetrics(listen: string | false | undefined, log: ReturnType<typeof createLogger>): Promise<MetricsServer | undefined> {
  const addr = listen ? parseListen(listen) : undefined;
  if (!addr) return undefined;
  try {
    const server = await serveMetrics(addr.host, addr.port);
    log.info('serving metrics', { url: server.url });
    return server;
  } catch (err) {
    log.warn('no metrics endpoint: cannot listen', { listen, err: (err as Error).message });
    return undefined;
  }
}
