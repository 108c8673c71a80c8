import type { Socket } from 'node:net';
import { ConnectionClosedError, describeError, NbdProtocolError } from './errors.js';
import { negotiate } from './handshake.js';
import { SocketReader } from './socket-reader.js';
import { SocketWriter } from './socket-writer.js';
import { startTls } from './tls.js';
import { serveTransmission } from './transmission.js';
import type { NbdExport, ServerSettings } from './types.js';

/** How long an ended socket may take to close by itself before it is destroyed. */
const LINGER_MS = 2000;

/** One client connection: handshake, then transmission, then cleanup. */
export class NbdConnection {
  readonly peer: string;
  /** Resolves once the socket has fully closed. */
  readonly closed: Promise<void>;
  private reader: SocketReader;
  private writer: SocketWriter;
  /** The client's socket: the TCP one, then the TLS one over it after NBD_OPT_STARTTLS. */
  private socket: Socket;
  private phase: 'handshake' | 'transmission' | 'ended' = 'handshake';
  private shuttingDown = false;
  private timedOut = false;

  private readonly resolveClosed: () => void;

  constructor(
    socket: Socket,
    private readonly settings: ServerSettings,
  ) {
    this.socket = socket;
    this.peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    let resolveClosed = (): void => {};
    this.closed = new Promise<void>((resolve) => (resolveClosed = resolve));
    this.resolveClosed = resolveClosed;
    socket.once('close', resolveClosed);
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
        startTls: this.settings.tls ? (ack) => this.startTls(ack) : undefined,
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
        tls: result.client.tls,
        identity: result.client.identity,
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

  /** NBD_OPT_STARTTLS: send its ACK, then carry on over TLS with a new reader and writer. */
  private async startTls(ack: Uint8Array): Promise<{ reader: SocketReader; writer: SocketWriter; identity: string | undefined; protocol: string | null }> {
    const tls = this.settings.tls;
    if (!tls) throw new Error('nbd: startTls without TLS settings');
    // A client that sent more before our ACK is not speaking the protocol (its TLS handshake would be cut).
    if (this.reader.release() > 0) throw new NbdProtocolError('data after NBD_OPT_STARTTLS before its reply');
    const raw = this.socket;
    // The ACK and the handover in one tick: the client's ClientHello can only come after it has the ACK.
    raw.write(ack);
    const upgraded = startTls(raw, tls);
    this.socket = upgraded.socket;
    upgraded.socket.once('close', this.resolveClosed);
    upgraded.socket.setNoDelay(true);
    this.reader = new SocketReader(upgraded.socket);
    this.writer = new SocketWriter(upgraded.socket);
    const { identity, protocol } = await upgraded.ready;
    return { reader: this.reader, writer: this.writer, identity, protocol };
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
