import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connectBus, type NatsConnection } from '@larder/bus';
import { ConfigCache } from '@larder/config-cache';

/** Poll `check` until it returns true (or throw after `timeoutMs`). */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A namespace, a temp dir with a config file, and NATS connections that are closed by `cleanup`. */
export async function testSetup(text: string) {
  const ns = `c${randomBytes(5).toString('hex')}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), `larder-config-${ns}-`));
  const file = path.join(dir, 'larder.yaml');
  await writeFile(file, text);
  const conns: NatsConnection[] = [];
  const caches: ConfigCache[] = [];
  const connect = async () => {
    const nc = await connectBus({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', name: `${ns}-test` });
    conns.push(nc);
    return nc;
  };
  return {
    ns,
    dir,
    file,
    connect,
    /** Caches on their own connections, as separate services would have. */
    caches: async (n: number, ttlMs: number) => {
      const out: ConfigCache[] = [];
      for (let i = 0; i < n; i++) out.push(await ConfigCache.start({ nc: await connect(), namespace: ns, ttlMs, env: false }));
      caches.push(...out);
      return out;
    },
    cleanup: async () => {
      for (const c of caches) await c.stop();
      for (const nc of conns) await nc.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
