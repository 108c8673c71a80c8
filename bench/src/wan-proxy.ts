import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { LinkSpec } from './link.js';
import { DEFAULT_LINK } from './link.js';

/** Options of {@link startWanProxy}. */
export interface WanProxyOptions {
  /** Where the proxy forwards each connection (the S3 endpoint). */
  target: { host: string; port: number };
  /** One-way delay added to every byte in each direction (default 20 ms). */
  latencyMs?: number;
  /** Bandwidth cap of each connection, per direction (default 64 MiB/s). */
  bandwidthBytesPerSec?: number;
  /** Extra delay before a new connection carries data: the TCP handshake (default one round trip, 2 × latencyMs). */
  handshakeMs?: number;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
}

/** Counters of a running proxy. */
export interface WanProxyStats {
  connections: number;
  activeConnections: number;
  /** Bytes forwarded client → target. */
  bytesUp: number;
  /** Bytes forwarded target → client. */
  bytesDown: number;
  /** Most bytes held by one direction of one connection at once (bounded by the high-water mark). */
  maxQueuedBytes: number;
}

/** A running shaping proxy. */
export interface WanProxy {
  readonly host: string;
  readonly port: number;
  /** `http://host:port`. */
  readonly endpoint: string;
  /** The link the proxy emulates. */
  readonly link: LinkSpec;
  readonly stats: WanProxyStats;
  /** Zero the byte and connection counters. */
  resetStats(): void;
  /** Stop listening and drop every open connection. */
  stop(): Promise<void>;
}

interface Pending {
  buf: Buffer;
  deliverAt: number;
}

/**
 * One direction of one connection: every chunk read from `src` is serialised at the link's
 * bandwidth (a chunk starts when the previous one has left, at the earliest when it arrived),
 * then delivered to `dst` `latencyMs` after it has left. Order is kept; reading from `src`
 * pauses when more than `highWater` bytes are held and resumes below half of it.
 */
class ShapedPipe {
  private readonly queue: Pending[] = [];
  private head = 0;
  private queued = 0;
  private linkFreeAt: number;
  private timer: NodeJS.Timeout | undefined;
  private waitingDrain = false;
  private srcEnded = false;
  private closed = false;

  constructor(
    private readonly src: net.Socket,
    private readonly dst: net.Socket,
    private readonly latencyMs: number,
    private readonly bytesPerMs: number,
    private readonly highWater: number,
    startAt: number,
    private readonly onBytes: (n: number) => void,
    private readonly onQueued: (n: number) => void,
  ) {
    this.linkFreeAt = startAt;
    src.on('data', (buf: Buffer) => this.push(buf));
    src.on('end', () => {
      this.srcEnded = true;
      this.pump();
    });
    dst.on('drain', () => {
      this.waitingDrain = false;
      this.pump();
    });
  }

  private push(buf: Buffer): void {
    if (this.closed) return;
    const now = performance.now();
    const start = Math.max(now, this.linkFreeAt);
    const leaves = start + buf.length / this.bytesPerMs;
    this.linkFreeAt = leaves;
    this.queue.push({ buf, deliverAt: leaves + this.latencyMs });
    this.queued += buf.length;
    this.onQueued(this.queued);
    if (this.queued > this.highWater) this.src.pause();
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.waitingDrain || this.closed) return;
    const next = this.queue[this.head];
    if (!next) return;
    const wait = next.deliverAt - performance.now();
    if (wait <= 0.5) {
      this.pump();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, Math.ceil(wait));
  }

  /** Deliver every chunk that is due, in order, until the destination pushes back. */
  pump(): void {
    if (this.closed || this.waitingDrain) return;
    const now = performance.now();
    for (;;) {
      const next = this.queue[this.head];
      if (!next || next.deliverAt > now + 0.5) break;
      this.head++;
      this.queued -= next.buf.length;
      this.onBytes(next.buf.length);
      const ok = this.dst.write(next.buf);
      if (!ok) {
        this.waitingDrain = true;
        break;
      }
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (this.queued <= this.highWater / 2 && this.src.isPaused() && !this.srcEnded) this.src.resume();
    if (this.head >= this.queue.length && this.srcEnded) {
      if (!this.waitingDrain) this.dst.end();
      return;
    }
    this.schedule();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.head = 0;
  }
}

/** Start a TCP proxy that makes `target` look as if it were behind a WAN link (latency + per-connection bandwidth). */
export async function startWanProxy(opts: WanProxyOptions): Promise<WanProxy> {
  const latencyMs = opts.latencyMs ?? DEFAULT_LINK.latencyMs;
  const bandwidth = opts.bandwidthBytesPerSec ?? DEFAULT_LINK.bandwidthBytesPerSec;
  const handshakeMs = opts.handshakeMs ?? 2 * latencyMs;
  if (!(latencyMs >= 0) || !(bandwidth > 0) || !(handshakeMs >= 0)) throw new Error('invalid link parameters');
  const bytesPerMs = bandwidth / 1000;
  // Room for what is on the wire (bandwidth × one-way delay) plus 20 ms of slack, at least 1 MiB:
  // enough for one connection to fill the link, bounded so a slow reader cannot make it grow.
  const highWater = Math.max(1 << 20, Math.ceil(bytesPerMs * (latencyMs + 20)));
  const link: LinkSpec = { latencyMs, bandwidthBytesPerSec: bandwidth, handshakeMs };
  const fresh = (): WanProxyStats => ({ connections: 0, activeConnections: 0, bytesUp: 0, bytesDown: 0, maxQueuedBytes: 0 });
  let stats = fresh();
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const onQueued = (n: number) => {
    if (n > stats.maxQueuedBytes) stats.maxQueuedBytes = n;
  };

  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    track(client);
    stats.connections++;
    stats.activeConnections++;
    const upstream = net.connect({ host: opts.target.host, port: opts.target.port, allowHalfOpen: true, noDelay: true });
    track(upstream);
    const start = performance.now() + handshakeMs;
    const up = new ShapedPipe(client, upstream, latencyMs, bytesPerMs, highWater, start, (n) => (stats.bytesUp += n), onQueued);
    // The answer direction cannot start before the request has crossed; its clock starts with the handshake too.
    const down = new ShapedPipe(upstream, client, latencyMs, bytesPerMs, highWater, start, (n) => (stats.bytesDown += n), onQueued);
    let done = false;
    const teardown = () => {
      if (done) return;
      done = true;
      stats.activeConnections--;
      up.close();
      down.close();
      client.destroy();
      upstream.destroy();
    };
    client.on('error', teardown);
    upstream.on('error', teardown);
    let closes = 0;
    const onClose = () => {
      // Clean ends travel through the pipes (each ends its destination once all is delivered);
      // errors tear both sides down at once.
      closes++;
      if (closes === 2) teardown();
    };
    client.on('close', onClose);
    upstream.on('close', onClose);
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    host,
    port,
    endpoint: `http://${host}:${port}`,
    link,
    get stats() {
      return stats;
    },
    resetStats: () => {
      const active = stats.activeConnections;
      stats = fresh();
      stats.activeConnections = active;
    },
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
