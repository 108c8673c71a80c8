// Test helper: a gc-worker in a process of its own (for kill -9), with an engine that stays in its mark phase until
// the process dies. argv[2]: the config as JSON; argv[3]: the lease in ms. Prints "ready <worker id>" when it answers.
import { parseConfig } from '@larder/config';
import { connectNodeDeps } from '@larder/service-kit';
import { newGcReport, startGcWorker } from '../dist/index.js';

const config = parseConfig(JSON.parse(process.argv[2]));
const engine = {
  async runDatastore(store, opts) {
    const report = newGcReport({ store: store.name, runId: opts.runId, apply: opts.apply }, 'mark');
    opts.onProgress(report);
    await new Promise((resolve) => opts.signal.addEventListener('abort', resolve, { once: true }));
    return { ...report, phase: 'cancelled', finishedAt: Date.now() };
  },
};
const deps = await connectNodeDeps(config, 'gc-worker-child');
const worker = await startGcWorker({ ...deps, config: () => config, engine, leaseMs: Number(process.argv[3]) });
process.stdout.write(`ready ${worker.id}\n`);
