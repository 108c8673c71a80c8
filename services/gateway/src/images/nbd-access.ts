import { readFile } from 'node:fs/promises';
import { isLoopbackHost, type Config } from '@larder/config';
import { parsePskFile, type NbdClient, type NbdTlsOptions } from '@larder/nbd';

/**
 * Whether `client` may use the NBD exports of datastore `store` (`gateway.nbdAccess`, read per request so that a reload
 * applies). An empty list lets every client in (the TLS handshake, when required, is the gate); otherwise the client's
 * TLS identity must be listed with the datastore or `*`, so a client without an identity (no TLS) gets nothing.
 */
export function nbdStoreAllowed(config: Config, client: NbdClient | undefined, store: string): boolean {
  const rules = config.gateway.nbdAccess;
  if (rules.length === 0) return true;
  const identity = client?.identity;
  if (identity === undefined) return false;
  return rules.some((r) => r.identity === identity && (r.datastores.includes('*') || r.datastores.includes(store)));
}

/**
 * Refuse NBD settings that would open every image to the network: `gateway.nbdListen` on a non-loopback address needs
 * `gateway.nbdTls` with `require` (or with `require: false`, a non-empty `gateway.nbdAccess`, which plain clients never
 * pass), unless `gateway.allowOpen`. And `gateway.nbdAccess` needs `gateway.nbdTls`: identities come from TLS only.
 */
export function checkNbdExposure(config: Config, host: string): void {
  const { nbdTls, nbdAccess, allowOpen } = config.gateway;
  if (nbdAccess.length > 0 && !nbdTls) {
    throw new Error('gateway.nbdAccess is set but gateway.nbdTls is not: NBD clients have an identity only over TLS (a PSK or a client certificate)');
  }
  if (isLoopbackHost(host) || allowOpen) return;
  if (!nbdTls) {
    throw new Error(`gateway.nbdListen ${host} is not a loopback address and gateway.nbdTls is not configured: configure TLS, listen on 127.0.0.1, or set gateway.allowOpen`);
  }
  if (!nbdTls.require && nbdAccess.length === 0) {
    throw new Error(
      `gateway.nbdListen ${host} is not a loopback address and gateway.nbdTls.require is false with no gateway.nbdAccess: plain clients could read every image; require TLS, or set gateway.allowOpen`,
    );
  }
}

async function readSetting(setting: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new Error(`${setting}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

/** The NBD server's TLS from `gateway.nbdTls`: the files read (once, at start), the PSK file parsed. */
export async function loadNbdTls(tls: NonNullable<Config['gateway']['nbdTls']>): Promise<NbdTlsOptions> {
  if (!tls.certFile !== !tls.keyFile) throw new Error('gateway.nbdTls: certFile and keyFile go together');
  if (!tls.certFile && !tls.pskFile) throw new Error('gateway.nbdTls needs certFile and keyFile, or pskFile');
  if (tls.caFile && !tls.certFile) throw new Error('gateway.nbdTls.caFile (client certificates) needs certFile and keyFile');
  const out: NbdTlsOptions = { require: tls.require };
  if (tls.certFile && tls.keyFile) {
    out.cert = await readSetting('gateway.nbdTls.certFile', tls.certFile);
    out.key = await readSetting('gateway.nbdTls.keyFile', tls.keyFile);
  }
  if (tls.caFile) out.ca = await readSetting('gateway.nbdTls.caFile', tls.caFile);
  if (tls.pskFile) out.psk = parsePskFile((await readSetting('gateway.nbdTls.pskFile', tls.pskFile)).toString('utf8'), `gateway.nbdTls.pskFile ${tls.pskFile}`);
  return out;
}
