import type { Socket } from 'node:net';

/** Writes whole messages to a socket and lets callers wait for write back-pressure to clear. */
export class SocketWriter {
  private drainWait: Promise<void> | undefined;

  constructor(private readonly socket: Socket) {}

  /** False once the socket is ended or destroyed; writes are then silently dropped. */
  get open(): boolean {
    return !this.socket.destroyed && this.socket.writable;
  }

  /**
   * Send `parts` back to back, so no other message can come between them, then wait until the
   * socket's buffer is below its high-water mark (or the socket closed).
   */
  async write(...parts: Uint8Array[]): Promise<void> {
    if (!this.open) return;
    this.socket.cork();
    for (const p of parts) if (p.length > 0) this.socket.write(p);
    this.socket.uncork();
    if (this.socket.writableNeedDrain) await this.drained();
  }

  /**
   * Send one message that lives in a buffer the caller reuses: `released(reusable)` is called once the
   * socket no longer needs it (true: it was taken whole, or never handed over; false: the write failed,
   * so better not reuse it). Then waits for back-pressure like `write`.
   */
  async writeReleasing(message: Uint8Array, released: (reusable: boolean) => void): Promise<void> {
    if (!this.open) {
      released(true);
      return;
    }
    this.socket.write(message, (err) => released(!err));
    if (this.socket.writableNeedDrain) await this.drained();
  }

  private drained(): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    if (!this.drainWait) {
      this.drainWait = new Promise<void>((resolve) => {
        const done = (): void => {
          this.socket.off('drain', done);
          this.socket.off('close', done);
          this.socket.off('finish', done);
          this.drainWait = undefined;
          resolve();
        };
        this.socket.on('drain', done);
        this.socket.on('close', done);
        this.socket.on('finish', done);
      });
    }
    return this.drainWait;
  }
}
