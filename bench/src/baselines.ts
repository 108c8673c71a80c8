import type { ImageFormat } from './image-fixture.js';
import { startNbdkit } from './nbdkit.js';
import { nbdCopyToNull } from './nbd-copy.js';
import type { NbdCopyResult } from './nbd-copy.js';
import { bestParallelGets, timeObjectGets } from './s3-gets.js';
import type { GetRunResult } from './s3-gets.js';
import { BENCH_BUCKET } from './fixtures.js';
import type { ImageSet } from './fixtures.js';
import type { BenchContext } from './types.js';
import { formatBytes } from './units.js';

/** (b) Straight from S3, one chunk at a time: plain keep-alive GETs at queue depth 1 through the WAN link, time-bounded (memoised per run). */
export function s3QueueDepth1(ctx: BenchContext, format: ImageFormat, set?: ImageSet): Promise<GetRunResult> {
  return ctx.memo(`s3-qd1:${set?.kind ?? 'random'}:${format}`, async () => {
    const all = await ctx.fixtures();
    const fx = set ?? all.random;
    const s3 = all.s3;
    ctx.log(`baseline: ${fx.label}, ${format} chunks from S3 at queue depth 1`);
    return timeObjectGets({
      endpoint: s3.endpoint,
      bucket: BENCH_BUCKET,
      keys: fx.images[format].chunks.map((c) => c.key),
      plainSizes: fx.images[format].chunks.map((c) => c.size),
      concurrency: 1,
      budgetMs: ctx.sizes.qd1BudgetMs,
    });
  });
}

/** (d) The S3 side's own limit: best throughput of parallel GETs of the image's chunks over the sizes' concurrencies (memoised per run). */
export function s3Limit(ctx: BenchContext, format: ImageFormat, set?: ImageSet): Promise<{ runs: GetRunResult[]; best: GetRunResult }> {
  return ctx.memo(`s3-limit:${set?.kind ?? 'random'}:${format}`, async () => {
    const all = await ctx.fixtures();
    const fx = set ?? all.random;
    const s3 = all.s3;
    ctx.log(`baseline: ${fx.label}, ${format} chunks from S3 with parallel GETs (${ctx.sizes.concurrencies.join('/')})`);
    return bestParallelGets(
      {
        endpoint: s3.endpoint,
        bucket: BENCH_BUCKET,
        keys: fx.images[format].chunks.map((c) => c.key),
        plainSizes: fx.images[format].chunks.map((c) => c.size),
        budgetMs: ctx.sizes.parallelBudgetMs,
      },
      ctx.sizes.concurrencies,
    );
  });
}

/** Reference for (d): the embedded S3 alone, without the WAN link, at `concurrency` GETs in flight (says whether S3 or the link is the limit; memoised per run). */
export function s3Unshaped(ctx: BenchContext, format: ImageFormat, concurrency: number, set?: ImageSet): Promise<GetRunResult> {
  return ctx.memo(`s3-unshaped:${set?.kind ?? 'random'}:${format}:${concurrency}`, async () => {
    const all = await ctx.fixtures();
    const fx = set ?? all.random;
    const s3 = all.s3;
    ctx.log(`baseline: ${fx.label}, ${format} chunks from the embedded S3 without the link, ${concurrency} in flight`);
    return timeObjectGets({
      endpoint: s3.directEndpoint,
      bucket: BENCH_BUCKET,
      keys: fx.images[format].chunks.map((c) => c.key),
      plainSizes: fx.images[format].chunks.map((c) => c.size),
      concurrency,
      budgetMs: ctx.sizes.parallelBudgetMs,
    });
  });
}

/** (c) nbdkit's curl plugin with its cache filter reading the raw image (one S3 object) through the WAN link, first `curlReadBytes` (memoised per run). */
export function nbdkitCurl(ctx: BenchContext, set?: ImageSet): Promise<NbdCopyResult & { server: string }> {
  return ctx.memo(`nbdkit-curl:${set?.kind ?? 'random'}`, async () => {
    const fx = set ?? (await ctx.fixtures()).random;
    const limit = Math.min(ctx.sizes.curlReadBytes, fx.raw.sizeBytes);
    ctx.log(`baseline: nbdkit curl + cache, first ${formatBytes(limit)} of the raw image`);
    const nk = await startNbdkit({
      plugin: 'curl',
      filters: limit < fx.raw.sizeBytes ? ['truncate', 'cache'] : ['cache'],
      params: [`url=${fx.raw.url}`, 'cache-on-read=true', ...(limit < fx.raw.sizeBytes ? [`truncate=${limit}`] : [])],
      env: { TMPDIR: ctx.workDir },
    });
    try {
      return { ...(await nbdCopyToNull(nk.uri)), server: nk.commandLine };
    } finally {
      await nk.stop();
    }
  });
}

/** Warm-restore limit: nbdkit's file plugin serving the raw image from local disk, read `warmRepeats` times after one warm-up read; the median run (memoised per run). */
export function nbdkitFile(ctx: BenchContext, set?: ImageSet): Promise<NbdCopyResult & { server: string; runs: number[] }> {
  return ctx.memo(`nbdkit-file:${set?.kind ?? 'random'}`, async () => {
    const fx = set ?? (await ctx.fixtures()).random;
    ctx.log('baseline: nbdkit file plugin (local disk)');
    const nk = await startNbdkit({ plugin: 'file', params: [fx.raw.path] });
    try {
      return { ...(await medianCopy(nk.uri, ctx.sizes.warmRepeats)), server: nk.commandLine };
    } finally {
      await nk.stop();
    }
  });
}

/** One warm-up read (unless `warmUp` is false), then `repeats` timed full reads; returns the median run and every run's MiB/s. */
export async function medianCopy(uri: string, repeats: number, warmUp = true): Promise<NbdCopyResult & { runs: number[] }> {
  if (warmUp) await nbdCopyToNull(uri);
  const runs: NbdCopyResult[] = [];
  for (let i = 0; i < Math.max(1, repeats); i++) runs.push(await nbdCopyToNull(uri));
  runs.sort((a, b) => a.mibPerSec - b.mibPerSec);
  const median = runs[Math.floor(runs.length / 2)] as NbdCopyResult;
  return { ...median, runs: runs.map((r) => r.mibPerSec) };
}
