import { loadConfig, type Config } from '@larder/config';
import { createLogger, initTelemetry, shutdownTelemetry } from '@larder/telemetry';

/**
 * Run a service as its own process: load the config, start tracing, start the service,
 * and stop it cleanly on SIGINT/SIGTERM. Exits non-zero with a clear message when start fails.
 */
export async function runMain(name: string, start: (config: Config) => Promise<{ stop(): Promise<void> }>): Promise<void> {
  const log = createLogger(name);
  let stopping = false;
  try {
    const config = loadConfig();
    initTelemetry({ serviceName: `larder-${name}`, otlpEndpoint: config.telemetry.otlpEndpoint });
    const running = await start(config);
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info('stopping', { signal });
      await running.stop();
      await shutdownTelemetry();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  } catch (err) {
    process.stderr.write(`larder ${name}: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
