import type { ImageFormat } from '../image-fixture.js';

/** Both chunk store formats, in report order. */
export const FORMATS: readonly ImageFormat[] = ['pbs', 'casync'];

/** Case label of an image format, e.g. `pbs image (4 MiB chunks)`. */
export function formatCase(format: ImageFormat): string {
  return format === 'pbs' ? 'pbs image (4 MiB chunks)' : 'casync image (~64 KiB chunks)';
}
