// @larder/nbd: a read-only NBD server (fixed newstyle) for Larder's disk images.
export { createNbdServer } from './server.js';
export { NBD_ERR } from './constants.js';
export type { NbdExport, NbdExportProvider, NbdLogger, NbdServer, NbdServerOptions } from './types.js';
