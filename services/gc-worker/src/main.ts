import { connectNodeDeps, runMain } from '@larder/service-kit';
import { createGcEngine } from './gc-engine.js';
import { startGcWorker } from './gc-service.js';

await runMain(
  'gc-worker',
  async ({ config }) => {
    const deps = await connectNodeDeps(config(), 'gc-worker');
    try {
      const { lease, claimLease } = config().gc;
      const engine = createGcEngine({ ...deps, config, claimLeaseMs: claimLease });
      const worker = await startGcWorker({ ...deps, config, engine, leaseMs: lease });
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
