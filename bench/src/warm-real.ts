// A small measurement of its own (not a scenario): warm NBD restores of the realistic ext4 image (pbs and casync)
// and of the random image (pbs) against nbdkit's file plugin in the same run, then gateway RSS with 8 reads at once.
// node bench/dist/warm-real.js [MiB]   (LARDER_BENCH_PROFILE_DIR=DIR for CPU profiles of the Larder processes)
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { medianCopy } from './baselines.js';
import { makeExt4Image } from './ext4-fixture.js';
import { BENCH_BUCKET } from './fixtures.js';
import { uploadChunkedImage, writeRandomImage, type ChunkedImage, type ImageFormat } from './image-fixture.js';
import { larderHook, type LarderHook } from './larder-hook.js';
import { makeLink } from './link.js';
import { startNbdkit } from './nbdkit.js';
import { killAllChildren } from './processes.js';
import { startPrivateRedis } from './redis-bench.js';
import { readRss } from './rss.js';
import { objectPutter } from './s3-client.js';
import { rssWhileReading } from './scenarios/memory.js';
import { startWanS3 } from './wan-s3.js';

const mib = Number(process.argv[2] ?? 1024);
const repeats = Number(process.env.WARM_REPEATS ?? 3);
const hook = larderHook as LarderHook;
const log = (m: string) => process.stderr.write(`[warm-real] ${m}\n`);
const work = await mkdtemp(join(process.env.LARDER_BENCH_WORKDIR ?? os.tmpdir(), 'warm-real-'));
const s3 = await startWanS3({ directory: join(work, 's3'), buckets: [BENCH_BUCKET], link: makeLink(20, 64) });
const redis = await startPrivateRedis(join(work, 'redis'));
try {
  const raws = { ext4: join(work, 'ext4.raw'), random: join(work, 'random.raw') };
  log(`building ${mib} MiB images`);
  await makeExt4Image(raws.ext4, mib * 2 ** 20);
  await writeRandomImage(raws.random, mib * 2 ** 20);
  const put = objectPutter(s3.directEndpoint, BENCH_BUCKET);
  const images: Record<string, ChunkedImage> = {};
  const cases: [string, keyof typeof raws, ImageFormat][] = [
    ['ext4-pbs', 'ext4', 'pbs'],
    ['ext4-casync', 'ext4', 'casync'],
    ['random-pbs', 'random', 'pbs'],
  ];
  for (const [name, raw, format] of cases) {
    log(`uploading ${name}`);
    const image = await uploadChunkedImage({
      endpoint: s3.directEndpoint,
      bucket: BENCH_BUCKET,
      prefix: `stores/${name}`,
      name,
      format,
      rawPath: raws[raw],
      encode: hook.encodeChunk,
      concurrency: format === 'casync' ? 16 : 8,
    });
    await hook.writeIndex?.(image, put);
    images[name] = image;
  }
  const file: Record<string, number> = {};
  for (const raw of ['ext4', 'random'] as const) {
    const nk = await startNbdkit({ plugin: 'file', params: [raws[raw]] });
    try {
      file[raw] = (await medianCopy(nk.uri, repeats)).mibPerSec;
    } finally {
      await nk.stop();
    }
    log(`nbdkit file ${raw}: ${file[raw]?.toFixed(0)} MiB/s`);
  }
  const dir = join(work, 'larder');
  await mkdir(dir);
  const stack = await hook.start({
    s3: { endpoint: s3.endpoint, bucket: BENCH_BUCKET, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', pathStyle: true },
    images: Object.values(images),
    redis,
    workDir: dir,
  });
  try {
    const lines: string[] = [];
    const order = ['ext4-pbs', 'ext4-casync'];
    const eight = () => Array.from({ length: 8 }, (_, i) => stack.nbdUri(images[order[i % 2] as string] as ChunkedImage));
    if (process.env.WARM_RSS !== '0') {
      // The stack is fresh: the memory scenario's case (8 cold reads at once), on the realistic image.
      const r = await rssWhileReading(eight(), () => stack.gatewayPids());
      const line = `8 cold reads at once (ext4 pbs/casync alternately): gateway peak RSS ${r.rss.peakMiB.toFixed(0)} MiB, mean ${r.rss.meanMiB.toFixed(0)} MiB, ${r.mibPerSec.toFixed(0)} MiB/s`;
      log(line);
      lines.push(line);
    }
    for (const [name, raw] of cases) {
      const image = images[name] as ChunkedImage;
      const r = await medianCopy(stack.nbdUri(image), repeats);
      const line = `${name}: larder ${r.mibPerSec.toFixed(0)} MiB/s (runs ${r.runs.map((x) => x.toFixed(0)).join(', ')}), nbdkit file ${file[raw]?.toFixed(0)} MiB/s, ratio ${(r.mibPerSec / (file[raw] ?? 1)).toFixed(2)}`;
      log(line);
      lines.push(line);
    }
    if (process.env.WARM_RSS !== '0') {
      const idle = await Promise.all(stack.gatewayPids().map((pid) => readRss(pid)));
      const status = (await (await fetch(`${stack.gatewayUrl}/v1/status`)).json()) as { decodedCache?: unknown };
      log(`gateway before the 8 reads: RSS ${(idle.reduce((a, b) => a + b, 0) / 2 ** 20).toFixed(0)} MiB, decoded cache ${JSON.stringify(status.decodedCache)}`);
      const r = await rssWhileReading(eight(), () => stack.gatewayPids());
      const line = `8 reads at once (ext4 pbs/casync alternately, warm volume): gateway peak RSS ${r.rss.peakMiB.toFixed(0)} MiB, mean ${r.rss.meanMiB.toFixed(0)} MiB, ${r.mibPerSec.toFixed(0)} MiB/s`;
      log(line);
      lines.push(line);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await stack.stop();
  }
} finally {
  await s3.stop().catch(() => undefined);
  await redis.stop().catch(() => undefined);
  killAllChildren();
  await rm(work, { recursive: true, force: true });
}
