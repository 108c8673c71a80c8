import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { makeExt4Image } from '../ext4-fixture.js';
import type { ImageSet } from '../fixtures.js';
import type { ImageFormat } from '../image-fixture.js';
import type { BenchContext } from '../types.js';
import { formatBytes } from '../units.js';

/** Both chunk store formats, in report order. */
export const FORMATS: readonly ImageFormat[] = ['pbs', 'casync'];

/** Case label of an image format, e.g. `pbs image (4 MiB chunks)`. */
export function formatCase(format: ImageFormat): string {
  return format === 'pbs' ? 'pbs image (4 MiB chunks)' : 'casync image (~64 KiB chunks)';
}

/** The realistic ext4 image of this run's size (`makeExt4Image`), made once per run and shared by the scenarios that use it. */
export function ext4Image(ctx: BenchContext): Promise<string> {
  return ctx.memo('ext4-image', async () => {
    const dir = join(ctx.workDir, 'ext4');
    await mkdir(dir, { recursive: true });
    const image = join(dir, 'ext4.img');
    ctx.log(`making a ${formatBytes(ctx.sizes.imageBytes)} ext4 image`);
    await makeExt4Image(image, ctx.sizes.imageBytes);
    return image;
  });
}

/** The test images of a restore scenario, the realistic one first: the ext4 image (main case), then the random one. */
export async function imageSets(ctx: BenchContext): Promise<ImageSet[]> {
  const fx = await ctx.fixtures();
  return [await fx.ext4(), fx.random];
}

/** Case label of one image in one format, e.g. `ext4 image, pbs (4 MiB chunks)`. */
export function setCase(set: ImageSet, format: ImageFormat): string {
  return `${set.label}, ${format === 'pbs' ? 'pbs (4 MiB chunks)' : 'casync (~64 KiB chunks)'}`;
}

/** What an image holds and how it compresses, e.g. for the ext4 image: zero blocks, stored bytes of each store / image bytes. */
export function imageStatsNote(set: ImageSet): string {
  const { stats } = set;
  const store = (format: ImageFormat) => {
    const s = stats.stored[format];
    const name = format === 'pbs' ? 'pbs DataBlobs' : 'casync .cacnk';
    return `${name} ${formatBytes(s.bytes)} in ${s.distinct} distinct of ${s.chunks} chunks = ${(s.bytes / set.raw.sizeBytes).toFixed(2)} of the image (${(set.raw.sizeBytes / Math.max(1, s.bytes)).toFixed(1)}×)`;
  };
  return `${set.label} (${formatBytes(set.raw.sizeBytes)}): ${(stats.zeroShare * 100).toFixed(0)}% of its 4 KiB blocks are zeros; stored: ${store('pbs')}; ${store('casync')}.`;
}
