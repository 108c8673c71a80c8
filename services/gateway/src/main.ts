import '@larder/service-kit/threadpool';
import { KnownChunks } from '@larder/redis';
import { connectNodeDeps, runMain } from '@larder/service-kit';
import { startGateway } from './gateway.js';
import { ChunkObjectStore } from './s3-api/chunk-object-store.js';

await runMain('gateway', async ({ config, configStatus }) => {
  const deps = await connectNodeDeps(config(), 'gateway');
  // The S3 endpoint's chunk objects: PUTs of chunks the node's record knows to be in S3 (within the time-to-trust) are not uploaded.
  const known = new KnownChunks(deps.redis, config().namespace, { retainMs: () => config().gateway.knownChunkTtl });
  const gateway = await startGateway({ ...deps, config, configStatus, chunkObjects: (node) => new ChunkObjectStore({ ...node, known }) });
  process.stdout.write(`Larder gateway: ${gateway.url}\n`);
  return {
    stop: async () => {
      await gateway.stop();
      await deps.close();
    },
  };
});
