import '@larder/service-kit/threadpool';
import cluster from 'node:cluster';
import { loadConfig } from '@larder/config';
import { joinClusterMetrics, serveClusterMetrics } from '@larder/metrics';
import { shareProofs, superviseWorkers, workerCount, workerRole } from './workers.js';

// `gateway.workers` > 1: this process only supervises; its workers (this script again) share the HTTP port. A config
// that does not load is left to runMain, which says what is wrong.
let workers = 1;
try {
  workers = workerCount(loadConfig().gateway.workers);
} catch {
  workers = 1;
}

if (cluster.isPrimary && workers > 1) {
  serveClusterMetrics();
  superviseWorkers(workers);
} else {
  // Loaded here, not above: the supervisor does without the gateway's modules (it starts faster and holds less).
  const [{ connectNodeDeps, runMain }, { startGateway }] = await Promise.all([import('@larder/service-kit'), import('./gateway.js')]);
  const worker = workerRole(workers);
  // `/metrics` on any worker answers for all of them (added up by the supervisor).
  joinClusterMetrics();
  await runMain('gateway', async ({ config, configStatus }) => {
    const deps = await connectNodeDeps(config, 'gateway');
    // Every worker serves HTTP; NBD and the S3 endpoint run in worker 0 only. NBD in every worker (node:cluster would
    // share the port and spread a multi-conn client's connections) was measured: each worker decodes and keeps its own
    // copies of compressed chunks, so a warm casync restore with 2 workers ran at 0.4× one worker's speed (bench README).
    const single = worker.index === 0 ? {} : { nbdListen: false as const, s3Listen: false as const };
    const gateway = await startGateway({ ...deps, config, configStatus, worker, ...single });
    shareProofs(gateway.chunks);
    process.stdout.write(`Larder gateway: ${gateway.url}${worker.count > 1 ? ` (worker ${worker.index} of ${worker.count})` : ''}\n`);
    return {
      stop: async () => {
        await gateway.stop();
        await deps.close();
      },
    };
  });
}
