import '@larder/service-kit/threadpool';
import { configPath, loadConfig } from '@larder/config';
import { createLogger, initTelemetry, shutdownTelemetry } from '@larder/telemetry';
import { seedDemo } from './seed-demo.js';
import { startStack } from './start-stack.js';
import { s3EndpointLines } from './s3-endpoint-banner.js';

const log = createLogger('stack');

/** `pnpm start`: the whole node in the foreground until SIGINT/SIGTERM. */
async function main(): Promise<void> {
  const config = loadConfig();
  initTelemetry({ serviceName: 'larder', otlpEndpoint: config.telemetry.otlpEndpoint });
  const stack = await startStack(config, { configFile: configPath() });
  await seedDemo(stack.config);
  const url = stack.gateways[0]?.url;
  process.stdout.write(
    `\nLarder is running.\n  gateway:   ${url}\n  status:    ${url}/v1/status\n  metrics:   ${url}/metrics\n${s3EndpointLines(stack.gateways[0]?.s3Url, stack.config)}  S3:        ${stack.config.s3.endpoint}${stack.s3 ? ' (embedded)' : ''}\n  datastores: ${Object.keys(stack.config.datastores).join(', ') || '(none)'}\nCtrl-C stops it.\n`,
  );
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    await stack.stop();
    await shutdownTelemetry();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: Error) => {
  process.stderr.write(`larder: ${err.message}\n`);
  process.exit(1);
});
