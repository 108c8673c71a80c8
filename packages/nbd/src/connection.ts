import type { Socket } from 'node:net';
import { ConnectionClosedError, describeError } from './errors.js';
import { negotiate } from './handshake.js';
import { SocketReader } from './socket-reader.js';
import { SocketWriter } from './socket-writer.js';
import { serveTransmission } from './transmission.js';
import type { NbdExport, ServerSettings } from './types.js';

/** How long an ended socket may take to close by itself before it is destroyed. */
const LINGER_MS = 2000;

/** One client connection: handshake, then transmission, then cleanup. */
export class NbdConnection {
  readonly peer: string;
  /** Resolves once the socket has fully closed. */
  readonly closed: Promise<void>;
  private readonly reader: SocketReader;
  private readonly writer: SocketWriter;
  private phase: 'handshake' | 'transmission' | 'ended' = 'handshake';
  private shuttingDown = false;
  private timedOut = false;

  constructor(
    private readonly socket: Socket,
    private readonly settings: ServerSettings,
  ) {
    this.peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // Errors (ECONNRESET, EPIPE...) also surface as a failed read or a close; never let one go unhandled.
    socket.on('error', () => {});
    socket.setNoDelay(true);
    this.reader = new SocketReader(socket);
    this.writer = new SocketWriter(socket);
  }

  /** Serve the connection to its end. Never rejects. */
  async run(): Promise<void> {
    const { logger } = this.settings;
    let exp: NbdExport | undefined;
    const timer = setTimeout(() => {
      this.timedOut = true;
      logger.warn('nbd: handshake timed out', { peer: this.peer, timeoutMs: this.settings.handshakeTimeoutMs });
      this.socket.destroy();
    }, this.settings.handshakeTimeoutMs);
    timer.unref();
    try {
      const result = await negotiate({
        reader: this.reader,
        writer: this.writer,
        settings: this.settings,
        peer: this.peer,
      });
      clearTimeout(timer);
      if (!result) {
        logger.info('nbd: client ended negotiation', { peer: this.peer });
        return;
      }
      exp = result.export;
      this.phase = 'transmission';
      logger.info('nbd: client attached', {
        peer: this.peer,
        export: exp.name,
        size: exp.size,
        structuredReplies: result.structuredReplies,
      });
      const end = await serveTransmission({
        reader: this.reader,
        writer: this.writer,
        settings: this.settings,
        peer: this.peer,
        export: exp,
        structuredReplies: result.structuredReplies,
        closed: this.closed,
        isShuttingDown: () => this.shuttingDown,
      });
      logger.info('nbd: client detached', { peer: this.peer, export: exp.name, reason: end });
    } catch (err) {
      this.logFailure(err, exp);
    } finally {
      clearTimeout(timer);
      this.phase = 'ended';
      if (exp?.close) {
        try {
          exp.close();
        } catch (err) {
          logger.warn('nbd: export close failed', { peer: this.peer, error: describeError(err) });
        }
      }
      this.finish();
    }
  }

  /**
   * For server shutdown: stop reading requests, let in-flight reads finish for up to `graceMs`,
   * then drop the socket. Resolves once the socket has closed.
   */
  shutdown(graceMs: number): Promise<void> {
    this.shuttingDown = true;
    if (this.phase === 'transmission') {
      this.reader.abort(new ConnectionClosedError('server shutting down', 0));
      setTimeout(() => this.socket.destroy(), graceMs).unref();
    } else {
      this.socket.destroy();
    }
    return this.closed;
  }

  private logFailure(err: unknown, exp: NbdExport | undefined): void {
    const { logger } = this.settings;
    if (this.timedOut) return; // already logged
    const meta = { peer: this.peer, phase: this.phase, export: exp?.name, error: describeError(err) };
    if (this.shuttingDown) logger.info('nbd: connection closed by server shutdown', meta);
    else if (err instanceof ConnectionClosedError && err.partialBytes === 0 && this.phase === 'handshake') logger.info('nbd: client hung up during handshake', meta);
    else logger.warn(`nbd: connection ended: ${describeError(err)}`, meta);
  }

  /** End our side (flushing queued replies), stop reading, and destroy if the peer lingers. */
  private finish(): void {
    this.reader.detach();
    if (this.socket.destroyed) return;
    this.socket.end();
    const t = setTimeout(() => this.socket.destroy(), LINGER_MS);
    t.unref();
    this.socket.once('close', () => clearTimeout(t));
  }
}
