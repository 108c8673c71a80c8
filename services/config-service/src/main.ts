import { busOptionsFrom, connectBus } from '@larder/bus';
import { configPath, readEnvironment } from '@larder/config';
import { runMain } from '@larder/service-kit';
import { startConfigService } from './config-service.js';
import { loadConfigOrLastGood } from './last-good.js';

const environment = readEnvironment();
const file = configPath(environment);

await runMain(
  'config-service',
  async ({ config }) => {
    const { namespace } = config();
    const nc = await connectBus(busOptionsFrom(config(), `${namespace}-config-service`));
    try {
      const svc = await startConfigService({ nc, file, namespace, ttlMs: environment.configTtlMs });
      process.stdout.write(`Larder config-service: ${svc.file}, generation ${svc.generation}\n`);
      return {
        stop: async () => {
          await svc.stop();
          await nc.drain().catch(() => nc.close());
        },
      };
    } catch (err) {
      await nc.close();
      throw err;
    }
  },
  { configService: false, loadConfig: () => loadConfigOrLastGood(file), metricsListen: (c) => c.metrics.configListen },
);
