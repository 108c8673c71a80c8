import type { Socket } from 'node:net';
import { ConnectionClosedError } from './errors.js';

type Waiter =
  | {
      kind: 'read';
      n: number;
      eofOk: boolean;
      resolve: (b: Buffer | null) => void;
      reject: (e: Error) => void;
    }
  | { kind: 'skip'; remaining: number; resolve: () => void; reject: (e: Error) => void };

/**
 * Reads exact-length messages from a socket. Buffers at most about `highWater` bytes that nobody
 * asked for; beyond that the socket is paused, so a busy connection pushes back on its client.
 */
export class SocketReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private failure: Error | undefined;
  private waiter: Waiter | undefined;
  private detached = false;

  constructor(
    private readonly socket: Socket,
    private readonly highWater = 256 * 1024,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  /** Bytes received and not yet consumed. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Read exactly `n` bytes; rejects with ConnectionClosedError when the socket ends first. */
  async read(n: number): Promise<Buffer> {
    const b = await this.wait(n, false);
    return b as Buffer;
  }

  /** Read exactly `n` bytes, or null when the socket ends cleanly before the first byte. */
  readOrEof(n: number): Promise<Buffer | null> {
    return this.wait(n, true);
  }

  /** Discard exactly `n` bytes without holding them in memory. */
  skip(n: number): Promise<void> {
    this.assertIdle();
    return new Promise<void>((resolve, reject) => {
      this.waiter = { kind: 'skip', remaining: n, resolve, reject };
      this.service();
    });
  }

  /** Fail the pending and all later reads with `err` (e.g. shutdown, timeout). */
  abort(err: Error): void {
    if (!this.failure) this.failure = err;
    this.service();
  }

  /** Stop interpreting input: drop buffered bytes and let the socket flow so its end is noticed. */
  detach(): void {
    if (this.detached) return;
    this.abort(new ConnectionClosedError('reader detached', 0));
    this.detached = true;
    this.chunks = [];
    this.buffered = 0;
    this.socket.resume();
  }

  /**
   * Hand the socket over (to TLS): stop listening to it, leaving its flow as it is. Returns how many received bytes
   * nobody read (they are dropped); later reads fail.
   */
  release(): number {
    const unread = this.buffered;
    this.abort(new ConnectionClosedError('reader released', 0));
    this.detached = true;
    this.chunks = [];
    this.buffered = 0;
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    return unread;
  }

  private wait(n: number, eofOk: boolean): Promise<Buffer | null> {
    this.assertIdle();
    return new Promise<Buffer | null>((resolve, reject) => {
      this.waiter = { kind: 'read', n, eofOk, resolve, reject };
      this.service();
    });
  }

  private assertIdle(): void {
    if (this.waiter) throw new Error('SocketReader: concurrent reads are not supported');
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.detached) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.service();
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    this.service();
  };

  private readonly onError = (err: Error): void => {
    if (!this.failure) this.failure = new ConnectionClosedError(`socket error: ${err.message}`, 0);
    this.service();
  };

  private service(): void {
    const w = this.waiter;
    if (w) {
      if (w.kind === 'read') {
        if (this.buffered >= w.n && !this.failure) {
          this.waiter = undefined;
          w.resolve(this.take(w.n));
        } else if (this.failure || this.ended) {
          this.waiter = undefined;
          if (this.failure) w.reject(this.failure);
          else if (w.eofOk && this.buffered === 0) w.resolve(null);
          else w.reject(new ConnectionClosedError(`client disconnected mid-message (${this.buffered} of ${w.n} bytes)`, this.buffered));
        }
      } else {
        w.remaining -= this.discard(w.remaining);
        if (w.remaining === 0) {
          this.waiter = undefined;
          w.resolve();
        } else if (this.failure || this.ended) {
          this.waiter = undefined;
          w.reject(this.failure ?? new ConnectionClosedError(`client disconnected mid-payload (${w.remaining} bytes missing)`, 1));
        }
      }
    }
    this.flowControl();
  }

  private flowControl(): void {
    if (this.detached || this.socket.destroyed) return;
    const wantMore = this.waiter !== undefined || this.buffered < this.highWater;
    if (wantMore && this.socket.isPaused()) this.socket.resume();
    else if (!wantMore && !this.socket.isPaused()) this.socket.pause();
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0];
      if (!c) throw new Error('SocketReader: buffer underrun');
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }

  private discard(max: number): number {
    let done = 0;
    while (done < max && this.chunks.length > 0) {
      const c = this.chunks[0] as Buffer;
      const k = Math.min(c.length, max - done);
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
      done += k;
    }
    this.buffered -= done;
    return done;
  }
}
