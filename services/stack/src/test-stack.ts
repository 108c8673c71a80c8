import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig, resolveDatastore, type Config, type ResolvedDatastore } from '@larder/config';
import { encodeChunk, type ChunkLayout } from '@larder/formats';
import { ChunkIndex, createRedis } from '@larder/redis';
import { chunkObjectKey, putObjectBytes, s3ClientFor } from '@larder/s3';
import { startStack, type Stack, type StackOptions } from './start-stack.js';

/** A stack in its own namespace (NATS subjects, Redis keys, buckets, volume), for one test file. */
export interface TestStack extends Stack {
  readonly ns: string;
  readonly dir: string;
  gateway(i?: number): string;
  ds(name: string): ResolvedDatastore;
  /** Put a chunk object into S3 as the layout stores it; returns its digest and object key. */
  putChunk(store: string, plain: Uint8Array): Promise<{ digest: string; key: string; bytes: Buffer }>;
  /** Remove every trace of the stack: services, Redis keys, files. */
  cleanup(): Promise<void>;
}

/** Start an isolated stack with an embedded S3 server on a free port and short timeouts. */
export async function startTestStack(opts: StackOptions & { config?: Record<string, unknown> } = {}): Promise<TestStack> {
  const ns = `t${randomBytes(5).toString('hex')}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), `larder-${ns}-`));
  const config: Config = parseConfig({
    namespace: ns,
    capacity: '1GiB',
    volume: { path: path.join(dir, 'volume') },
    redis: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    nats: { servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
    gateway: { listen: '127.0.0.1:0', touchFlushInterval: '100ms' },
    s3: { embedded: { listen: '127.0.0.1:0', directory: path.join(dir, 's3') } },
    fetcher: { timeout: '3s', retries: 2, backoff: '50ms' },
    index: { evictInterval: '200ms' },
    datastores: { demo: { layout: 'pbs', bucket: `${ns}-demo` }, cas: { layout: 'casync', bucket: `${ns}-cas` } },
    ...opts.config,
  });
  const stack = await startStack(config, { gatewayListen: '127.0.0.1:0', ...opts });
  const ds = (name: string) => {
    const d = resolveDatastore(stack.config, name);
    if (!d) throw new Error(`no datastore ${name}`);
    return d;
  };
  return {
    ...stack,
    ns,
    dir,
    gateway: (i = 0) => stack.gateways[i]?.url ?? '',
    ds,
    putChunk: async (store: string, plain: Uint8Array) => {
      const d = ds(store);
      const { digest, bytes } = encodeChunk(d.layout as ChunkLayout, plain);
      const key = chunkObjectKey(d, digest);
      await putObjectBytes(s3ClientFor(d), d.bucket, key, bytes);
      return { digest, key: `${d.bucket}/${key}`, bytes };
    },
    cleanup: async () => {
      await stack.stop();
      const redis = createRedis({ url: config.redis.url });
      await new ChunkIndex(redis, ns).clear();
      redis.disconnect();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** GET (or another method) a URL and read the whole body. */
export async function fetchBytes(url: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}
