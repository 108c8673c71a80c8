import { connectNodeDeps, runMain } from '@larder/service-kit';
import { loadGcEngine } from './engine-loader.js';
import { startGcWorker } from './gc-service.js';

await runMain(
  'gc-worker',
  async ({ config }) => {
    const deps = await connectNodeDeps(config(), 'gc-worker');
    try {
      const engine = await loadGcEngine({ ...deps, config });
      if (!engine) throw new Error('this build of the gc-worker has no GC engine (gc-engine.js)');
      const worker = await startGcWorker({ ...deps, config, engine });
      return {
        stop: async () => {
          await worker.stop();
          await deps.close();
        },
      };
    } catch (err) {
      await deps.close();
      throw err;
    }
  },
  { metricsListen: (c) => c.metrics.gcListen },
);
