import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig, type Config } from '@larder/config';
import { connectNodeDeps, type NodeDeps } from '@larder/service-kit';

/** A node for the cache-index's tests: the shared Redis and NATS in a namespace of its own (nothing is flushed), a volume in a temp folder. */
export interface TestNode {
  config: Config;
  deps: NodeDeps;
  /** Clear the namespace's index, close the connections and remove the volume. */
  close(): Promise<void>;
}

/** Connect a test node with a 3000-byte capacity and eviction and reconciliation left to the test. */
export async function openTestNode(name: string): Promise<TestNode> {
  const ns = `t${randomBytes(5).toString('hex')}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), `larder-${ns}-`));
  const config = parseConfig({
    namespace: ns,
    capacity: 3000,
    volume: { path: path.join(dir, 'volume'), fsync: false },
    redis: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    nats: { servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
    index: { evictInterval: '1h', reconcileInterval: '1h' },
  });
  const deps = await connectNodeDeps(config, name);
  return {
    config,
    deps,
    close: async () => {
      await deps.index.clear();
      await deps.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
