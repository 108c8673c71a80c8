import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { makeExt4Image } from '../ext4-fixture.js';
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
