import { createServer, type AddressInfo, type Server } from 'node:net';
import { NbdConnection } from './connection.js';
import { describeError } from './errors.js';
import { ReplyBufferPool } from './reply-buffers.js';
import { resolveTls } from './tls.js';
import type { NbdLogger, NbdServer, NbdServerOptions, ServerSettings } from './types.js';

const MiB = 1024 * 1024;
/** How long in-flight reads may run on after close() before their sockets are dropped. */
const SHUTDOWN_GRACE_MS = 2000;
/** Largest payload NBD_REPLY_TYPE_OFFSET_DATA can describe in one chunk. */
const MAX_READ_LENGTH_LIMIT = 0xffffffff - 8;

const defaultLogger: NbdLogger = {
  info() {},
  warn(msg, meta) {
    console.warn(msg, meta ?? '');
  },
};

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

function positiveInteger(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new RangeError(`@larder/nbd: ${name} must be an integer in [1, ${max}], got ${value}`);
  }
  return value;
}

/** Validate options and fill in defaults. */
export function resolveSettings(opts: NbdServerOptions): ServerSettings {
  const maxReadLength = positiveInteger('maxReadLength', opts.maxReadLength ?? 32 * MiB, MAX_READ_LENGTH_LIMIT);
  if (maxReadLength < 512) throw new RangeError('@larder/nbd: maxReadLength must be at least 512');
  const preferred = opts.preferredBlockSize ?? 64 * 1024;
  if (!isPowerOfTwo(preferred) || preferred < 512) {
    throw new RangeError(`@larder/nbd: preferredBlockSize must be a power of two >= 512, got ${preferred}`);
  }
  // The protocol requires maximum payload >= preferred block size.
  let preferredBlockSize = preferred;
  while (preferredBlockSize > maxReadLength) preferredBlockSize /= 2;
  return {
    provider: opts.provider,
    maxInflight: positiveInteger('maxInflightPerConnection', opts.maxInflightPerConnection ?? 64),
    maxReadLength,
    preferredBlockSize,
    handshakeTimeoutMs: positiveInteger('handshakeTimeoutMs', opts.handshakeTimeoutMs ?? 10_000),
    maxInflightBytes: Math.max(maxReadLength, 64 * MiB),
    serverInflight: { bytes: 0, max: Math.max(maxReadLength, positiveInteger('maxInflightBytes', opts.maxInflightBytes ?? 64 * MiB)) },
    logger: opts.logger ?? defaultLogger,
    replyBuffers: new ReplyBufferPool(),
    tls: opts.tls ? resolveTls(opts.tls) : undefined,
  };
}

/** Create a read-only NBD server (fixed newstyle handshake) over the exports of `opts.provider`. */
export function createNbdServer(opts: NbdServerOptions): NbdServer {
  const settings = resolveSettings(opts);
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 10809;
  const live = new Set<NbdConnection>();
  let accepted = 0;
  let server: Server | undefined;
  let closing: Promise<void> | undefined;

  const accept = (socket: import('node:net').Socket): void => {
    if (closing) {
      socket.destroy();
      return;
    }
    const conn = new NbdConnection(socket, settings);
    accepted++;
    live.add(conn);
    void conn.closed.then(() => live.delete(conn));
    void conn.run();
  };

  return {
    get connections(): number {
      return live.size;
    },

    get accepted(): number {
      return accepted;
    },

    async listen(): Promise<{ host: string; port: number }> {
      if (server) throw new Error('@larder/nbd: server is already listening');
      if (closing) throw new Error('@larder/nbd: server is closed');
      const s = createServer({ allowHalfOpen: true }, accept);
      server = s;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, host, () => {
          s.off('error', reject);
          resolve();
        });
      });
      s.on('error', (err) => settings.logger.warn('nbd: server socket error', { error: describeError(err) }));
      const addr = s.address() as AddressInfo;
      settings.logger.info('nbd: listening', { host: addr.address, port: addr.port });
      return { host: addr.address, port: addr.port };
    },

    close(): Promise<void> {
      closing ??= (async () => {
        const s = server;
        const stopped = s?.listening ? new Promise<void>((resolve) => s.close(() => resolve())) : undefined;
        await Promise.all([...live].map((c) => c.shutdown(SHUTDOWN_GRACE_MS)));
        await stopped;
      })();
      return closing;
    },
  };
}
