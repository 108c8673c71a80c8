import { connectBus } from '@larder/bus';
import { ConfigCache } from '@larder/config-cache';
import { benchBusOptions } from '../bench-connections.js';

/**
 * Child process of the config-lookups scenario: one "service" holding a ConfigCache on its own NATS
 * connection. Tells the parent (IPC) its generation at start and after every change.
 */
async function main(): Promise<void> {
  const { namespace, servers } = JSON.parse(process.argv[2] ?? '{}') as { namespace: string; servers: string };
  const nc = await connectBus(benchBusOptions(servers, `${namespace}-bench-service-${process.pid}`));
  const cache = await ConfigCache.start({ nc, namespace, ttlMs: 60_000, env: false });
  cache.onChange((e) => process.send?.({ generation: e.generation, stores: Object.keys(e.config.datastores).length }));
  process.on('disconnect', () => {
    void cache
      .stop()
      .then(() => nc.close())
      .finally(() => process.exit(0));
  });
  process.send?.({ ready: cache.generation });
}

void main().catch((err: unknown) => {
  process.stderr.write(`config-lookups child: ${(err as Error).message}\n`);
  process.exit(1);
});
