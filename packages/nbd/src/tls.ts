import type { Socket } from 'node:net';
import { createSecureContext, DEFAULT_CIPHERS, TLSSocket, type SecureContext } from 'node:tls';
import type { NbdTlsOptions } from './types.js';

/**
 * With PSKs: TLS 1.3 suites with SHA-256 first, chosen in our order. OpenSSL takes a PSK from the server callback only
 * for a SHA-256 suite; had it picked TLS_AES_256_GCM_SHA384 (first in GnuTLS's list), a server with a certificate would
 * drop the PSK and answer with its certificate, which a PSK-only client (libnbd, QEMU) refuses.
 */
const TLS13_SUITES_FOR_PSK = ['TLS_AES_128_GCM_SHA256', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_256_GCM_SHA384'];
/** TLS 1.2 PSK suites (AEAD only) that GnuTLS clients offer; Node's default list strikes every PSK suite (`!PSK`). */
const TLS12_PSK_SUITES = ['ECDHE-PSK-CHACHA20-POLY1305', 'DHE-PSK-AES256-GCM-SHA384', 'DHE-PSK-AES128-GCM-SHA256', 'PSK-AES256-GCM-SHA384', 'PSK-AES128-GCM-SHA256'];

function pskCiphers(): string {
  const rest = DEFAULT_CIPHERS.split(':').filter((c) => c !== '!PSK' && !c.startsWith('TLS_'));
  return [...TLS13_SUITES_FOR_PSK, ...TLS12_PSK_SUITES, ...rest].join(':');
}

/** The TLS side of the resolved server settings. */
export interface ServerTls {
  readonly context: SecureContext;
  readonly psk: ReadonlyMap<string, Buffer> | undefined;
  /** Clients without a PSK must present a certificate signed by the configured CA. */
  readonly verifyClientCerts: boolean;
  /** FORCEDTLS: nothing but NBD_OPT_STARTTLS / NBD_OPT_ABORT before TLS. */
  readonly require: boolean;
}

/** The TLS handshake failed or its result is refused (e.g. no valid client certificate); the session must end. */
export class NbdTlsError extends Error {
  override name = 'NbdTlsError';
}

/** Validate the TLS options and build the one secure context every connection shares. */
export function resolveTls(opts: NbdTlsOptions): ServerTls {
  if (!opts.cert !== !opts.key) throw new RangeError('@larder/nbd: tls.cert and tls.key go together');
  if (!opts.cert && !opts.psk) throw new RangeError('@larder/nbd: tls needs a certificate and key, or PSKs');
  if (opts.psk && opts.psk.size === 0) throw new RangeError('@larder/nbd: tls.psk holds no keys');
  if (opts.ca && !opts.cert) throw new RangeError("@larder/nbd: tls.ca (client certificates) needs the server's own cert and key");
  const context = createSecureContext({
    cert: opts.cert,
    key: opts.key,
    ca: opts.ca,
    minVersion: 'TLSv1.2',
    // OpenSSL refuses to take a PSK (a session, to it) while client certificates are asked for without one.
    sessionIdContext: 'larder-nbd',
    ...(opts.psk ? { ciphers: pskCiphers(), honorCipherOrder: true } : {}),
  });
  return { context, psk: opts.psk, verifyClientCerts: opts.ca !== undefined, require: opts.require ?? true };
}

/**
 * Upgrade `socket` to TLS as its server. Call it in the same tick as NBD_REP_ACK was written and with no unread bytes
 * (the client starts its handshake only after the ACK). Resolves with the TLS socket and the client's identity: its PSK
 * identity, or the CN of its verified certificate. Rejects with NbdTlsError when the handshake fails or the client
 * brings neither a known PSK nor (with a CA configured) a valid certificate; the TLS socket is then destroyed.
 */
export function startTls(socket: Socket, tls: ServerTls): { socket: TLSSocket; ready: Promise<{ identity: string | undefined; protocol: string | null }> } {
  let pskIdentity: string | undefined;
  const secure = new TLSSocket(socket, {
    isServer: true,
    secureContext: tls.context,
    // Checked below, so that a PSK client needs no certificate.
    requestCert: tls.verifyClientCerts,
    rejectUnauthorized: false,
    pskCallback: tls.psk
      ? (_socket: TLSSocket, identity: string): Buffer | null => {
          const key = tls.psk?.get(identity);
          if (key) pskIdentity = identity;
          return key ?? null;
        }
      : undefined,
  } as ConstructorParameters<typeof TLSSocket>[1]);
  // Failures surface through `ready`; never let one go unhandled.
  secure.on('error', () => {});
  const ready = new Promise<{ identity: string | undefined; protocol: string | null }>((resolve, reject) => {
    const fail = (message: string): void => {
      secure.destroy();
      reject(new NbdTlsError(message));
    };
    const onError = (err: Error): void => fail(`TLS handshake failed: ${err.message}`);
    const onClose = (): void => fail('client closed the connection during the TLS handshake');
    secure.once('error', onError);
    secure.once('close', onClose);
    secure.once('secure', () => {
      secure.off('error', onError);
      secure.off('close', onClose);
      const protocol = secure.getProtocol();
      if (pskIdentity !== undefined) return resolve({ identity: pskIdentity, protocol });
      if (!tls.verifyClientCerts) return resolve({ identity: undefined, protocol });
      // What tls.Server does on 'secure' (a TLSSocket made by hand does not): OpenSSL's verdict on the client's chain.
      const verifyError = (secure as unknown as { ssl: { verifyError(): (Error & { code?: string }) | null } }).ssl.verifyError();
      if (verifyError) return fail(`client certificate refused: ${verifyError.code ?? verifyError.message}`);
      const cn = secure.getPeerCertificate().subject?.CN;
      resolve({ identity: Array.isArray(cn) ? cn[0] : cn, protocol });
    });
  });
  return { socket: secure, ready };
}
