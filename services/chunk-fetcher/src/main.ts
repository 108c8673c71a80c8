import { connectNodeDeps, runMain } from '@larder/service-kit';
import { startChunkFetcher } from './fetcher-service.js';

await runMain(
  'chunk-fetcher',
  async ({ config }) => {
    const deps = await connectNodeDeps(config, 'chunk-fetcher');
    const fetcher = await startChunkFetcher({ ...deps, config });
    return {
      stop: async () => {
        await fetcher.stop();
        await deps.close();
      },
    };
  },
  { metricsListen: (c) => c.metrics.fetcherListen },
);
