// Test helpers (excluded from the build): real Redis, unique key namespace per test file.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createRedis } from './connection.js';

/** Redis URL of the test server. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh, random key namespace for one test file. */
export function testNamespace(label: string): string {
  return `test-${label}-${randomUUID().slice(0, 8)}`;
}

/** Open `n` separate connections to the test server. */
export function connect(n = 1): Redis[] {
  return Array.from({ length: n }, () => createRedis({ url: REDIS_URL }));
}

/** Delete every key whose hash tag starts with `base` (i.e. `{base...}:*`), then close the connections. */
export async function cleanup(base: string, connections: Redis[]): Promise<void> {
  const [redis] = connections;
  if (redis) {
    const pattern = `{${base.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  }
  await Promise.all(connections.map((c) => c.quit()));
}

/** All keys of namespace `ns` (hash tag exactly `{ns}`). */
export async function keysOf(redis: Redis, ns: string): Promise<string[]> {
  return redis.keys(`{${ns.replace(/[*?[\]\\]/g, '\\$&')}}:*`);
}

/** A redis-server of a test's own on a free port (never the shared one): stop and start it at will. */
export interface OwnRedis {
  readonly url: string;
  readonly port: number;
  /** Stop the server (SIGKILL: nothing is saved; `--save ''` anyway). */
  stop(): Promise<void>;
  /** Start it again on the same port, empty. */
  start(): Promise<void>;
}

/** Spawn `redis-server --port P --save '' --appendonly no` on a free port; wait until it accepts connections. */
export async function startOwnRedis(): Promise<OwnRedis> {
  const { spawn } = await import('node:child_process');
  const net = await import('node:net');
  const port = await new Promise<number>((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = srv.address() as { port: number };
      srv.close(() => resolve(p));
    });
    srv.on('error', reject);
  });
  let child: import('node:child_process').ChildProcess | undefined;
  const up = async () => {
    for (let i = 0; i < 100; i++) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => s.end(() => resolve(true)));
        s.on('error', () => resolve(false));
      });
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server on port ${port} did not start`);
  };
  const own: OwnRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    start: async () => {
      // Already running: a second server on the port would fail to bind and leave this one without an owner.
      if (child && child.exitCode === null && child.signalCode === null) return;
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
      await up();
    },
    stop: async () => {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    },
  };
  await own.start();
  return own;
}
