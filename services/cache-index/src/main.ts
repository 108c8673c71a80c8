import { connectNodeDeps, runMain } from '@larder/service-kit';
import { startCacheIndex } from './index-service.js';

await runMain(
  'cache-index',
  async ({ config }) => {
    const deps = await connectNodeDeps(config(), 'cache-index');
    const svc = await startCacheIndex({ ...deps, config });
    return {
      stop: async () => {
        await svc.stop();
        await deps.close();
      },
    };
  },
  { metricsListen: (c) => c.metrics.indexListen },
);
