import { connectBus } from '@larder/bus';
import { configPath } from '@larder/config';
import { configTtlFromEnv } from '@larder/config-cache';
import { runMain } from '@larder/service-kit';
import { startConfigService } from './config-service.js';
import { loadConfigOrLastGood } from './last-good.js';

const file = configPath();

await runMain(
  'config-service',
  async (config) => {
    const nc = await connectBus({ servers: config.nats.servers, name: `${config.namespace}-config-service` });
    try {
      const svc = await startConfigService({ nc, file, namespace: config.namespace, ttlMs: configTtlFromEnv() });
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
  { configCache: false, loadConfig: () => loadConfigOrLastGood(file) },
);
