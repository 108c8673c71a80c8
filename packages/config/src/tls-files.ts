import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';

/** The PEM files of a TLS setting (`redis.tls`, `nats.tls`). */
export interface TlsFiles {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

/** The contents of {@link TlsFiles} (PEM text), ready for `tls.connect`. */
export interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
}

/**
 * Read the PEM files of the TLS setting `setting` (read at connect, so that a renewed certificate is taken at the
 * next start); throws ConfigError naming the setting and the file when one cannot be read, or a certificate comes without its key.
 */
export function readTlsFiles(tls: TlsFiles, setting: string): TlsMaterial {
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new ConfigError(setting, [
      { path: tls.certFile === undefined ? 'certFile' : 'keyFile', message: 'give certFile and keyFile together (a client certificate and its key)' },
    ]);
  }
  const read = (field: keyof TlsFiles): string | undefined => {
    const file = tls[field];
    if (file === undefined) return undefined;
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
      throw new ConfigError(setting, [{ path: field, message: `cannot read ${file}: ${why}` }], { cause: err });
    }
  };
  const out: TlsMaterial = {};
  const ca = read('caFile');
  const cert = read('certFile');
  const key = read('keyFile');
  if (ca) out.ca = ca;
  if (cert) out.cert = cert;
  if (key) out.key = key;
  return out;
}
