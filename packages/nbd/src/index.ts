// @larder/nbd: a read-only NBD server (fixed newstyle) for Larder's disk images.
export { createNbdServer } from './server.js';
export { NBD_ERR } from './constants.js';
export { parsePskFile } from './psk-file.js';
export { NbdTlsError } from './tls.js';
export type { NbdClient, NbdExport, NbdExportProvider, NbdLogger, NbdServer, NbdServerOptions, NbdTlsOptions } from './types.js';
