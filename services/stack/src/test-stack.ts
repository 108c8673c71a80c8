import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig, resolveDatastore, type Config, type ResolvedDatastore } from '@larder/config';
import { encodeChunk } from '@larder/formats';
import { ChunkIndex, createRedis, redisOptionsFrom } from '@larder/redis';
import { chunkObjectKey, putObjectBytes, s3ClientFor } from '@larder/s3';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { startStack, type Stack, type StackOptions } from './start-stack.js';
import { writeServedConfig } from './test-config.js';

const cliMain = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));

/** A stack in its own namespace (NATS subjects, Redis keys, buckets, volume), for one test file. */
export interface TestStack extends Stack {
  readonly ns: string;
  readonly dir: string;
  gateway(i?: number): string;
  ds(name: string): ResolvedDatastore;
  /** Put a chunk object into S3 as the layout stores it; returns its digest and object key. */
  putChunk(store: string, plain: Uint8Array): Promise<{ digest: string; key: string; bytes: Buffer }>;
  /** Write the stack's config (with the embedded S3 endpoint) to a YAML file for child processes; returns its path. */
  writeConfigFile(): Promise<string>;
  /** Run the real `larder` CLI in a child process against this stack (`env`: more variables, e.g. LARDER_TOKEN). */
  cli(args: string[], env?: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Remove every trace of the stack: services, Redis keys, files. */
  cleanup(): Promise<void>;
}

/** Start an isolated stack with an embedded S3 server on a free port and short timeouts. */
export async function startTestStack(opts: StackOptions & { config?: Record<string, unknown>; configService?: boolean } = {}): Promise<TestStack> {
  const ns = `t${randomBytes(5).toString('hex')}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), `larder-${ns}-`));
  const config: Config = parseConfig({
    namespace: ns,
    capacity: '1GiB',
    // No background scrubber unless a test asks for one (`cacheIndex.scrub()` runs a pass on demand).
    volume: { path: path.join(dir, 'volume'), scrubRate: 0 },
    redis: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    nats: { servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
    gateway: { listen: '127.0.0.1:0', nbdListen: '127.0.0.1:0', s3Listen: '127.0.0.1:0', touchFlushInterval: '100ms', requestTimeout: '5s' },
    s3: { embedded: { listen: '127.0.0.1:0', directory: path.join(dir, 's3') } },
    fetcher: { timeout: '3s', retries: 2, backoff: '50ms' },
    index: { evictInterval: '200ms' },
    datastores: { demo: { layout: 'pbs', bucket: `${ns}-demo` }, cas: { layout: 'casync', bucket: `${ns}-cas` } },
    ...opts.config,
  });
  // configService: the stack's config-service owns <dir>/config/larder.yaml (see test-config.ts).
  const configFile = opts.configService ? await writeServedConfig(dir, config) : undefined;
  const stack = await startStack(config, { gatewayListen: '127.0.0.1:0', configFile, ...opts });
  const writeConfigFile = async () => {
    const file = path.join(dir, 'larder.yaml');
    const c = stack.config;
    const raw = {
      namespace: c.namespace,
      capacity: c.capacity,
      volume: { path: c.volume.path, reserve: c.volume.reserve },
      redis: c.redis,
      nats: c.nats,
      s3: { endpoint: c.s3.endpoint, region: c.s3.region, pathStyle: c.s3.pathStyle },
      fetcher: { timeout: c.fetcher.timeout, retries: c.fetcher.retries, backoff: c.fetcher.backoff },
      datastores: c.datastores,
      budgets: c.budgets,
    };
    await writeFile(file, stringify(raw));
    return file;
  };
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
      const { digest, bytes } = encodeChunk(d.layout, plain, d.digest);
      const key = chunkObjectKey(d, digest);
      await putObjectBytes(s3ClientFor(d), d.bucket, key, bytes);
      return { digest, key: `${d.bucket}/${key}`, bytes };
    },
    writeConfigFile,
    cli: async (args: string[], env: Record<string, string> = {}) => {
      const file = await writeConfigFile();
      return new Promise((resolve) => {
        execFile(
          process.execPath,
          [cliMain, ...args],
          { env: { ...process.env, LARDER_CONFIG: file, LARDER_GATEWAY_URL: stack.gateways[0]?.url, ...env }, maxBuffer: 64 * 2 ** 20 },
          (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    },
    cleanup: async () => {
      await stack.stop();
      const redis = createRedis(redisOptionsFrom(config));
      await new ChunkIndex(redis, ns).clear();
      const records = [...(await redis.keys(`{${ns}}:known:*`)), ...(await redis.keys(`{${ns}}:gc:*`)), ...(await redis.keys(`{${ns}}:budget:*`))];
      if (records.length > 0) await redis.unlink(...records);
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
