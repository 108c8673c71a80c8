import type { NbdExport, NbdExportProvider } from '@larder/nbd';
import type { Config } from '@larder/config';
import { StatusError, statusOf } from '@larder/errors';
import { gatewayRouteSeries, timedRead } from '@larder/metrics';
import { createLogger } from '@larder/telemetry';
import type { ImageCatalog } from './image-catalog.js';
import { newCursor, type ImageReader } from './image-reader.js';
import { nbdStoreAllowed } from './nbd-access.js';

const log = createLogger('gateway');

/**
 * NBD exports: one per image, named `{store}/{image}`; each connection gets its own readahead cursor. A client sees and
 * opens only the datastores `gateway.nbdAccess` gives its TLS identity (others: not listed, NBD_REP_ERR_POLICY).
 */
export function imageExports(deps: { config: () => Config; catalog: ImageCatalog; reader: (store: string, name: string) => Promise<ImageReader> }): NbdExportProvider {
  const series = gatewayRouteSeries('nbd');
  return {
    async list(client) {
      const out: { name: string; description?: string }[] = [];
      const config = deps.config();
      for (const store of Object.keys(config.datastores)) {
        if (!nbdStoreAllowed(config, client, store)) continue;
        const images = await deps.catalog.list(store).catch((err: Error) => {
          log.warn('cannot list images for NBD', { store, err });
          return [];
        });
        for (const img of images) out.push({ name: `${store}/${img.name}`, description: `${img.format}, ${img.size} bytes, ${img.chunks} chunks` });
      }
      return out;
    },
    // Rejects with the catalog's StatusError, so that the client is told why: 404 no such export (or store), 503/504 S3
    // unavailable and no good index of the image kept, 422 malformed index.
    async open(name, client): Promise<NbdExport | undefined> {
      const slash = name.indexOf('/');
      if (slash <= 0) throw new StatusError(404, `no such export: expected {store}/{image}, e.g. demo/vm/100/disk.fidx`);
      // Checked before the image is looked at, so that a refused client learns nothing of what the datastore holds.
      if (!nbdStoreAllowed(deps.config(), client, name.slice(0, slash))) {
        log.info('NBD export refused by gateway.nbdAccess', { name, peer: client?.peer, identity: client?.identity });
        throw new StatusError(
          403,
          `${client?.identity === undefined ? 'a client without a TLS identity' : `identity '${client.identity}'`} may not use datastore '${name.slice(0, slash)}' (gateway.nbdAccess)`,
        );
      }
      const reader = await deps.reader(name.slice(0, slash), name.slice(slash + 1)).catch((err: Error) => {
        log.info('NBD export not opened', { name, err: err.message });
        const status = statusOf(err);
        if (status === 400 || status === 404) throw new StatusError(404, `no such export: ${err.message}`, { cause: err });
        throw err;
      });
      const cursor = newCursor();
      return {
        name,
        size: reader.size,
        description: `${reader.image.index.format} image ${reader.image.name} in datastore ${reader.image.store}`,
        // A failed read's StatusError becomes its NBD errno in the NBD server (nbdErrnoOf: 416 EINVAL, else EIO).
        read: (offset, length) => timedRead(series, length, () => reader.read(offset, length, cursor)),
        // Preferred by the server: fills its reused reply buffer, no allocation or copy of our own.
        readInto: (offset, length, target) => timedRead(series, length, () => reader.readInto(offset, length, target, cursor)),
      };
    },
  };
}
