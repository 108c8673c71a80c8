import type { NbdExport, NbdExportProvider } from '@larder/nbd';
import type { Config } from '@larder/config';
import { createLogger } from '@larder/telemetry';
import type { ImageCatalog } from './image-catalog.js';
import { newCursor, type ImageReader } from './image-reader.js';

const log = createLogger('gateway');

/** NBD exports: one per image, named `{store}/{image}`; each connection gets its own readahead cursor. */
export function imageExports(deps: { config: () => Config; catalog: ImageCatalog; reader: (store: string, name: string) => Promise<ImageReader> }): NbdExportProvider {
  return {
    async list() {
      const out: { name: string; description?: string }[] = [];
      for (const store of Object.keys(deps.config().datastores)) {
        const images = await deps.catalog.list(store).catch((err: Error) => {
          log.warn('cannot list images for NBD', { store, err });
          return [];
        });
        for (const img of images) out.push({ name: `${store}/${img.name}`, description: `${img.format}, ${img.size} bytes, ${img.chunks} chunks` });
      }
      return out;
    },
    async open(name): Promise<NbdExport | undefined> {
      const slash = name.indexOf('/');
      if (slash <= 0) return undefined;
      const reader = await deps.reader(name.slice(0, slash), name.slice(slash + 1)).catch((err: Error) => {
        log.info('NBD export not opened', { name, err: err.message });
        return undefined;
      });
      if (!reader) return undefined;
      const cursor = newCursor();
      return {
        name,
        size: reader.size,
        description: `${reader.image.index.format} image ${reader.image.name} in datastore ${reader.image.store}`,
        // A failed read's StatusError becomes its NBD errno in the NBD server (nbdErrnoOf: 416 EINVAL, else EIO).
        read: (offset, length) => reader.read(offset, length, cursor),
        // Preferred by the server: fills its reused reply buffer, no allocation or copy of our own.
        readInto: (offset, length, target) => reader.readInto(offset, length, target, cursor),
      };
    },
  };
}
