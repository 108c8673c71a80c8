import type { ImageFormat } from '../image-fixture.js';
import { formatBytes } from '../units.js';
import type { BenchContext } from '../types.js';

/** Both chunk store formats, in report order. */
export const FORMATS: readonly ImageFormat[] = ['pbs', 'casync'];

/** Case label of an image format, e.g. `pbs image (4 MiB chunks)`. */
export function formatCase(format: ImageFormat): string {
  return format === 'pbs' ? 'pbs image (4 MiB chunks)' : 'casync image (~64 KiB chunks)';
}

/** `1 GiB image` style label of the run's image. */
export function imageLabel(ctx: BenchContext): string {
  return `${formatBytes(ctx.sizes.imageBytes)} image`;
}
