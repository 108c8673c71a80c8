import path from 'node:path';
import { resolveDatastore, type Config } from '@larder/config';
import { importRawImage, listImageIndexes } from '@larder/datastore';
import { createLogger } from '@larder/telemetry';
import { makeDemoImage } from './demo-image.js';

const log = createLogger('stack');

export const DEMO_IMAGE = 'demo-disk.img.fidx';

/** On first start, import the demo disk image into the `demo` datastore (when it exists and has no images). */
export async function seedDemo(config: Config): Promise<void> {
  const ds = resolveDatastore(config, 'demo');
  if (!ds || ds.layout !== 'pbs') return;
  if ((await listImageIndexes(ds)).length > 0) return;
  const file = path.join(path.dirname(config.volume.path), 'demo-disk.img');
  log.info('first start: making and importing the demo disk image', { file });
  await makeDemoImage(file);
  const r = await importRawImage({ ds, file, name: DEMO_IMAGE });
  log.info('demo image imported', { image: r.image, size: r.size, chunks: r.chunks, uniqueChunks: r.uniqueChunks, uploadedBytes: r.uploadedBytes });
}
