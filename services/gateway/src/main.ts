import '@larder/service-kit/threadpool';
import { connectNodeDeps, runMain } from '@larder/service-kit';
import { startGateway } from './gateway.js';

await runMain('gateway', async ({ config, configStatus }) => {
  const deps = await connectNodeDeps(config, 'gateway');
  const gateway = await startGateway({ ...deps, config, configStatus });
  process.stdout.write(`Larder gateway: ${gateway.url}\n`);
  return {
    stop: async () => {
      await gateway.stop();
      await deps.close();
    },
  };
});
