// Test helper: a gc-worker in a process of its own (for kill -9), with an engine that stays in its mark phase until
// the process dies. argv[2]: the config as JSON; argv[3]: the lease in ms. Prints "ready <worker id>" when it answers.
import { parseConfig } from '@larder/config';
import { connectNodeDeps } from '@larder/service-kit';
import { startGcWorker } from '../dist/index.js';

const config = parseConfig(JSON.parse(process.argv[2]));
const engine = {
  async runDatastore(store, opts) {
    const report = {
      store: store.name,
      runId: opts.runId,
      apply: opts.apply,
      phase: 'mark',
      startedAt: Date.now(),
      done: 0,
      indexes: 0,
      referenced: 0,
      cacheChunks: 0,
      cacheBytes: 0,
      s3Chunks: 0,
      s3Bytes: 0,
      keptByGrace: 0,
      keptByTouch: 0,
    };
    opts.onProgress(report);
    await new Promise((resolve) => opts.signal.addEventListener('abort', resolve, { once: true }));
    return { ...report, phase: 'cancelled', finishedAt: Date.now() };
  },
};
const deps = await connectNodeDeps(config, 'gc-worker-child');
const worker = await startGcWorker({ ...deps, config: () => config, engine, leaseMs: Number(process.argv[3]) });
process.stdout.write(`ready ${worker.id}\n`);
