// Test helper (not built): a minimal NBD client over node:net for byte-level protocol tests.
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import {
  NBD_CMD_DISC,
  NBD_CMD_READ,
  NBD_FLAG_C_FIXED_NEWSTYLE,
  NBD_FLAG_C_NO_ZEROES,
  NBD_IHAVEOPT,
  NBD_INFO_EXPORT,
  NBD_OPT_GO,
  NBD_OPT_REPLY_MAGIC,
  NBD_OPT_STRUCTURED_REPLY,
  NBD_REP_ACK,
  NBD_REP_INFO,
  NBD_REQUEST_MAGIC,
  NBD_SIMPLE_REPLY_MAGIC,
  NBD_STRUCTURED_REPLY_MAGIC,
} from './constants.js';
import { SocketReader } from './socket-reader.js';

export interface OptionReply {
  option: number;
  type: number;
  data: Buffer;
}

export interface StructuredChunk {
  flags: number;
  type: number;
  cookie: bigint;
  data: Buffer;
}

export interface SimpleReply {
  error: number;
  cookie: bigint;
}

/** A raw NBD client: write arbitrary bytes, read exact replies. */
export class RawClient {
  reader: SocketReader;
  readonly closed: Promise<void>;
  private constructor(public socket: Socket) {
    this.reader = new SocketReader(socket);
    this.closed = new Promise((r) => socket.once('close', () => r()));
    // Like real clients: once the server has ended its side, close ours.
    socket.once('end', () => socket.end());
  }

  /** Connect to 127.0.0.1:`port`. */
  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new RawClient(s));
      });
      s.once('error', reject);
    });
  }

  /** After NBD_REP_ACK of NBD_OPT_STARTTLS: run the TLS handshake as client over the same socket, then speak over TLS. */
  async startTls(options: ConnectionOptions): Promise<TLSSocket> {
    this.reader.release();
    const secure = tlsConnect({ ...options, socket: this.socket });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    secure.on('error', () => {});
    this.socket = secure;
    this.reader = new SocketReader(secure);
    return secure;
  }

  write(b: Uint8Array): void {
    this.socket.write(b);
  }

  read(n: number): Promise<Buffer> {
    return this.reader.read(n);
  }

  /** Resolves true when the server closes the connection without sending more bytes. */
  async expectEof(): Promise<boolean> {
    try {
      const b = await this.reader.readOrEof(1);
      return b === null;
    } catch {
      return true; // reset counts as closed
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Read the greeting; returns the handshake flags. */
  async readGreeting(): Promise<number> {
    const g = await this.read(18);
    if (g.readBigUInt64BE(0) !== 0x4e42444d41474943n) throw new Error('bad NBDMAGIC');
    if (g.readBigUInt64BE(8) !== NBD_IHAVEOPT) throw new Error('bad IHAVEOPT');
    return g.readUInt16BE(16);
  }

  sendClientFlags(flags = NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(flags, 0);
    this.write(b);
  }

  /** Greeting plus client flags. */
  async start(flags?: number): Promise<number> {
    const hf = await this.readGreeting();
    this.sendClientFlags(flags);
    return hf;
  }

  sendOption(option: number, data: Uint8Array = Buffer.alloc(0), declaredLength = data.length): void {
    const h = Buffer.alloc(16);
    h.writeBigUInt64BE(NBD_IHAVEOPT, 0);
    h.writeUInt32BE(option, 8);
    h.writeUInt32BE(declaredLength, 12);
    this.write(Buffer.concat([h, data]));
  }

  async readOptionReply(): Promise<OptionReply> {
    const h = await this.read(20);
    if (h.readBigUInt64BE(0) !== NBD_OPT_REPLY_MAGIC) throw new Error('bad option reply magic');
    const len = h.readUInt32BE(16);
    const data = len > 0 ? await this.read(len) : Buffer.alloc(0);
    return { option: h.readUInt32BE(8), type: h.readUInt32BE(12), data };
  }

  /** Option replies up to and including the first non-NBD_REP_INFO/SERVER reply. */
  async readOptionReplies(): Promise<OptionReply[]> {
    const out: OptionReply[] = [];
    for (;;) {
      const r = await this.readOptionReply();
      out.push(r);
      if (r.type !== NBD_REP_INFO && r.type !== 2) return out;
    }
  }

  /** Encode NBD_OPT_GO / NBD_OPT_INFO data. */
  static infoRequest(name: string, infos: number[] = []): Buffer {
    const n = Buffer.from(name, 'utf8');
    const b = Buffer.alloc(4 + n.length + 2 + 2 * infos.length);
    b.writeUInt32BE(n.length, 0);
    n.copy(b, 4);
    b.writeUInt16BE(infos.length, 4 + n.length);
    infos.forEach((t, i) => b.writeUInt16BE(t, 6 + n.length + 2 * i));
    return b;
  }

  /** Full handshake with NBD_OPT_GO (`skipStart`: the greeting is done already); returns size and transmission flags. */
  async handshake(name: string, opts: { structured?: boolean; skipStart?: boolean } = {}): Promise<{ size: bigint; flags: number }> {
    if (!opts.skipStart) await this.start();
    if (opts.structured) {
      this.sendOption(NBD_OPT_STRUCTURED_REPLY);
      const r = await this.readOptionReply();
      if (r.type !== NBD_REP_ACK) throw new Error(`structured reply refused: ${r.type}`);
    }
    this.sendOption(NBD_OPT_GO, RawClient.infoRequest(name));
    const replies = await this.readOptionReplies();
    const last = replies[replies.length - 1];
    if (!last || last.type !== NBD_REP_ACK) throw new Error(`NBD_OPT_GO failed: ${last?.type}`);
    const info = replies.find((r) => r.type === NBD_REP_INFO && r.data.readUInt16BE(0) === NBD_INFO_EXPORT);
    if (!info) throw new Error('no NBD_INFO_EXPORT');
    return { size: info.data.readBigUInt64BE(2), flags: info.data.readUInt16BE(10) };
  }

  /** Send a transmission request. */
  request(type: number, cookie: bigint, offset: bigint | number, length: number, flags = 0, payload?: Uint8Array): void {
    const h = Buffer.alloc(28);
    h.writeUInt32BE(NBD_REQUEST_MAGIC, 0);
    h.writeUInt16BE(flags, 4);
    h.writeUInt16BE(type, 6);
    h.writeBigUInt64BE(cookie, 8);
    h.writeBigUInt64BE(BigInt(offset), 16);
    h.writeUInt32BE(length, 24);
    this.write(payload ? Buffer.concat([h, payload]) : h);
  }

  sendRead(cookie: bigint, offset: number, length: number): void {
    this.request(NBD_CMD_READ, cookie, offset, length);
  }

  disconnect(): void {
    this.request(NBD_CMD_DISC, 0n, 0, 0);
  }

  /** Read a simple reply header (data, if any, must be read by the caller). */
  async readSimpleReply(): Promise<SimpleReply> {
    const h = await this.read(16);
    if (h.readUInt32BE(0) !== NBD_SIMPLE_REPLY_MAGIC) throw new Error(`bad simple reply magic ${h.readUInt32BE(0).toString(16)}`);
    return { error: h.readUInt32BE(4), cookie: h.readBigUInt64BE(8) };
  }

  /** Read one structured reply chunk. */
  async readChunk(): Promise<StructuredChunk> {
    const h = await this.read(20);
    if (h.readUInt32BE(0) !== NBD_STRUCTURED_REPLY_MAGIC) throw new Error(`bad chunk magic ${h.readUInt32BE(0).toString(16)}`);
    const len = h.readUInt32BE(16);
    const data = len > 0 ? await this.read(len) : Buffer.alloc(0);
    return { flags: h.readUInt16BE(4), type: h.readUInt16BE(6), cookie: h.readBigUInt64BE(8), data };
  }
}
