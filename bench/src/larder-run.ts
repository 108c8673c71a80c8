import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from './processes.js';
import type { ExtraDatastore, LarderStack } from './larder-hook.js';
import type { BenchContext } from './types.js';

/** How {@link withLarder} starts Larder: fetcher count and per-fetcher concurrency (Larder's defaults when absent). */
export interface LarderRunOptions {
  fetchers?: number;
  fetcherConcurrency?: number;
  /** The gateway's HTTP processes (`gateway.workers`). */
  gatewayWorkers?: number;
  /** More datastores in the bench bucket (see `LarderStartOptions.extraDatastores`). */
  extraDatastores?: Record<string, ExtraDatastore>;
}

/** Start a cold Larder stack (fresh scratch dir, Redis flushed), run `fn` with it, and always stop it. Undefined when Larder is not wired. */
export async function withLarder<T>(ctx: BenchContext, fn: (stack: LarderStack) => Promise<T>, opts: LarderRunOptions = {}): Promise<T | undefined> {
  const hook = ctx.larder;
  if (!hook) return undefined;
  const fx = await ctx.fixtures();
  const redis = await ctx.redis();
  await runCommand('redis-cli', ['-h', redis.host, '-p', String(redis.port), 'FLUSHALL'], { timeoutMs: 10_000 });
  const workDir = await mkdtemp(join(ctx.workDir, 'larder-'));
  const stack = await hook.start({
    s3: { endpoint: fx.s3.endpoint, bucket: fx.bucket, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', pathStyle: true },
    images: fx.builtImages(),
    redis,
    workDir,
    ...(opts.fetchers === undefined ? {} : { fetchers: opts.fetchers }),
    ...(opts.fetcherConcurrency === undefined ? {} : { fetcherConcurrency: opts.fetcherConcurrency }),
    ...(opts.gatewayWorkers === undefined ? {} : { gatewayWorkers: opts.gatewayWorkers }),
    ...(opts.extraDatastores === undefined ? {} : { extraDatastores: opts.extraDatastores }),
  });
  try {
    return await fn(stack);
  } finally {
    await stack.stop();
  }
}

/** The note a scenario adds when Larder is not wired yet. */
export const LARDER_NOT_WIRED = 'Larder is not wired into the harness yet (bench/src/larder-hook.ts): only the baselines were measured.';
