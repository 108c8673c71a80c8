// Public types of @larder/nbd.
import type { ReplyBufferPool } from './reply-buffers.js';
import type { ServerTls } from './tls.js';

/** One block device served over NBD (read-only). */
export interface NbdExport {
  readonly name: string;
  /** Size in bytes. */
  readonly size: number;
  readonly description?: string;
  /**
   * Read exactly `length` bytes at `offset` (caller guarantees in range). May reject: the NBD error is the
   * Error's `nbdErrno` (number) property when set, else `nbdErrnoOf(err)` (a StatusError's 400/416 EINVAL, else EIO).
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Optional, preferred when present: fill the buffer `target()` gives (exactly `length` bytes) with the
   * data at `offset`. Call `target()` only once the data is at hand (fetched, opened, decoded), so that
   * reads waiting for a slow source hold no buffer; it gives the same buffer every time. The buffer is one
   * the server reuses once the socket has taken the reply, so the promise must settle only when nothing
   * writes into it any more, also when it rejects. Errors as for `read`.
   */
  readInto?(offset: number, length: number, target: () => Buffer): Promise<void>;
  /**
   * Called when the client disconnects. On a hard disconnect reads may still be pending; their
   * results are then discarded.
   */
  close?(): void;
}

/** Who is on the other end of a connection, as far as TLS tells (for per-export access). */
export interface NbdClient {
  /** Address and port. */
  readonly peer: string;
  /** Whether the session runs over TLS (after NBD_OPT_STARTTLS). */
  readonly tls: boolean;
  /** The PSK identity, or the CN of a verified client certificate; undefined without either. */
  readonly identity?: string;
}

/** Source of exports: what NBD_OPT_LIST shows and what NBD_OPT_GO / EXPORT_NAME open, for `client`. */
export interface NbdExportProvider {
  list(client: NbdClient): Promise<{ name: string; description?: string }[]>;
  /**
   * Undefined when no such export. May reject with a StatusError (`@larder/errors`) to say why it cannot open one: 404 no
   * such export, 422 it cannot be served as it is (malformed), 503/504 its source is unavailable; NBD_OPT_INFO / NBD_OPT_GO
   * answer with the fitting NBD_REP_ERR_* (see `openErrorReply`) and the error's message; 403 for a client that may not
   * use the export (NBD_REP_ERR_POLICY).
   */
  open(name: string, client: NbdClient): Promise<NbdExport | undefined>;
}

/** Where log lines go. */
export interface NbdLogger {
  info(msg: string, meta?: object): void;
  warn(msg: string, meta?: object): void;
}

export interface NbdServerOptions {
  provider: NbdExportProvider;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 10809; 0 = ephemeral. */
  port?: number;
  /** Default 64 concurrent reads per connection. */
  maxInflightPerConnection?: number;
  /** Bytes being read at once across every connection (reply buffers held); default 64 MiB (at least maxReadLength). */
  maxInflightBytes?: number;
  /** Default 32 MiB; a larger read gets EINVAL (also advertised as maximum block size). */
  maxReadLength?: number;
  /** Default 64 KiB (advertised via NBD_INFO_BLOCK_SIZE; the minimum block size is 1). */
  preferredBlockSize?: number;
  /** Default 10000. */
  handshakeTimeoutMs?: number;
  logger?: NbdLogger;
  /** TLS through NBD_OPT_STARTTLS; none: NBD_OPT_STARTTLS is refused (NBD_REP_ERR_POLICY). */
  tls?: NbdTlsOptions;
}

/** The server's TLS: a certificate and key, PSKs, or both. */
export interface NbdTlsOptions {
  /** Certificate chain and private key (PEM). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** CA certificates (PEM): given, clients without a PSK must present a certificate that chains to them (identity: its CN). */
  ca?: string | Buffer;
  /** Pre-shared keys by identity (see `parsePskFile`). */
  psk?: ReadonlyMap<string, Buffer>;
  /** Default true (the protocol's FORCEDTLS): every option but NBD_OPT_STARTTLS and NBD_OPT_ABORT gets NBD_REP_ERR_TLS_REQD before TLS. */
  require?: boolean;
}

export interface NbdServer {
  /** Start listening; resolves with the bound address. */
  listen(): Promise<{ host: string; port: number }>;
  /** Stop accepting, end every connection (in-flight reads get a short grace period). */
  close(): Promise<void>;
  /** Number of open client connections. */
  readonly connections: number;
  /** Client connections accepted since start. */
  readonly accepted: number;
}

/** Resolved server settings shared by every connection. */
export interface ServerSettings {
  readonly provider: NbdExportProvider;
  readonly maxInflight: number;
  readonly maxReadLength: number;
  readonly preferredBlockSize: number;
  readonly handshakeTimeoutMs: number;
  /** Upper bound of bytes being read for one connection at once (soft: one read may exceed it). */
  readonly maxInflightBytes: number;
  /**
   * Bytes being read (reply buffers held) across every connection, and their bound: a connection with a read in
   * flight takes no further read past it (soft: each connection may always have one read), so that many clients at
   * once cannot hold a connection's window each (8 nbdcopy runs of 4 connections: 2 GiB).
   */
  readonly serverInflight: { bytes: number; readonly max: number };
  readonly logger: NbdLogger;
  /** Reply buffers reused across the server's connections (for exports with `readInto`). */
  readonly replyBuffers: ReplyBufferPool;
  /** TLS, when the server offers it. */
  readonly tls?: ServerTls;
}
