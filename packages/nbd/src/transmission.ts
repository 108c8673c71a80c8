import {
  NBD_CMD_CACHE,
  NBD_CMD_DISC,
  NBD_CMD_FLAG_DF,
  NBD_CMD_FLAG_FUA,
  NBD_CMD_FLUSH,
  NBD_CMD_READ,
  NBD_CMD_TRIM,
  NBD_CMD_WRITE,
  NBD_CMD_WRITE_ZEROES,
  NBD_ERR,
  NBD_REQUEST_MAGIC,
  REQUEST_HEADER_SIZE,
} from './constants.js';
import { describeError, NbdProtocolError, toNbdErrno } from './errors.js';
import type { SocketReader } from './socket-reader.js';
import type { SocketWriter } from './socket-writer.js';
import type { NbdExport, ServerSettings } from './types.js';
import {
  encodeErrorChunk,
  encodeNoneChunk,
  encodeOffsetDataHeader,
  encodeSimpleReply,
  OFFSET_DATA_HEADER_SIZE,
  SIMPLE_REPLY_HEADER_SIZE,
  writeOffsetDataHeader,
  writeSimpleReply,
} from './wire.js';

export interface TransmissionContext {
  readonly reader: SocketReader;
  readonly writer: SocketWriter;
  readonly settings: ServerSettings;
  readonly peer: string;
  readonly export: NbdExport;
  readonly structuredReplies: boolean;
  /** Resolves when the socket has closed; nothing more can be delivered then. */
  readonly closed: Promise<void>;
  /** True once the server is shutting down (in-flight reads are then still answered). */
  readonly isShuttingDown: () => boolean;
}

/** Why the transmission phase ended normally. */
export type TransmissionEnd = 'disconnect-command' | 'client-eof' | 'socket-closed';

/** A parsed request header. */
export interface NbdRequest {
  readonly flags: number;
  readonly type: number;
  readonly cookie: Buffer;
  readonly offset: bigint;
  readonly length: number;
}

/** Decode a 28-byte request header; throws NbdProtocolError on a wrong magic. */
export function parseRequest(header: Buffer): NbdRequest {
  const magic = header.readUInt32BE(0);
  if (magic !== NBD_REQUEST_MAGIC) {
    throw new NbdProtocolError(`bad request magic 0x${magic.toString(16)}`);
  }
  return {
    flags: header.readUInt16BE(4),
    type: header.readUInt16BE(6),
    cookie: Buffer.from(header.subarray(8, 16)),
    offset: header.readBigUInt64BE(16),
    length: header.readUInt32BE(24),
  };
}

type ReadInto = NonNullable<NbdExport['readInto']>;

/** Largest write payload we swallow (to answer EPERM) rather than dropping the connection. */
function maxWritePayload(settings: ServerSettings): number {
  return Math.max(settings.maxReadLength, 32 * 1024 * 1024);
}

/**
 * Serve requests until NBD_CMD_DISC, end of input or socket close. Reads run concurrently (bounded by
 * the in-flight limits, beyond which no further request is read) and are answered as they complete.
 * After NBD_CMD_DISC (or on server shutdown) in-flight replies are finished before this returns;
 * end of input without NBD_CMD_DISC, or a broken request, is a hard disconnect: pending reads
 * are abandoned and their results dropped.
 */
export async function serveTransmission(ctx: TransmissionContext): Promise<TransmissionEnd> {
  const { reader, writer, settings, structuredReplies, export: exp } = ctx;
  const size = BigInt(exp.size);
  const readInto = exp.readInto?.bind(exp);
  const inflight = new Set<Promise<void>>();
  let inflightBytes = 0;
  let socketClosed = false;
  const closed = ctx.closed.then(() => {
    socketClosed = true;
  });

  /** Reply to a non-read command (or a read refused before any data): simple on success. */
  const sendStatus = (req: NbdRequest, errno: number, message: string): Promise<void> => {
    if (structuredReplies && (errno !== 0 || req.type === NBD_CMD_READ)) {
      return writer.write(errno === 0 ? encodeNoneChunk(req.cookie) : encodeErrorChunk(req.cookie, errno, message));
    }
    return writer.write(encodeSimpleReply(req.cookie, errno));
  };

  const failRead = (req: NbdRequest, offset: number, err: unknown): { errno: number; message: string } => {
    const errno = toNbdErrno(err);
    settings.logger.warn('nbd: export read failed', {
      peer: ctx.peer,
      export: exp.name,
      offset,
      length: req.length,
      errno,
      error: describeError(err),
    });
    return { errno, message: `read of ${req.length} bytes at ${offset} failed: ${describeError(err)}` };
  };

  /**
   * A read into a reused reply buffer: header and data in one buffer, one socket write, no copy and no
   * fresh allocation per request. The export takes the buffer only once its data is at hand, and it goes
   * back to the pool once the socket has taken the reply.
   */
  const performReadInto = async (req: NbdRequest, offset: number, readInto: ReadInto): Promise<void> => {
    const pool = settings.replyBuffers;
    const headerSize = structuredReplies ? OFFSET_DATA_HEADER_SIZE : SIMPLE_REPLY_HEADER_SIZE;
    const total = headerSize + req.length;
    let buf: Buffer | undefined;
    let data: Buffer | undefined;
    const target = (): Buffer => {
      buf ??= pool.take(total);
      data ??= buf.subarray(headerSize, total);
      return data;
    };
    try {
      await readInto(offset, req.length, target);
      if (!buf) throw new Error(`export filled no buffer for a read of ${req.length} bytes`);
    } catch (err) {
      // Not given back: failures are rare, and an export that broke the contract (still writing into the
      // buffer after rejecting) could otherwise corrupt another reply.
      const { errno, message } = failRead(req, offset, err);
      if (socketClosed) return;
      return sendStatus(req, errno, message);
    }
    const reply = buf;
    if (socketClosed) {
      pool.give(reply);
      return;
    }
    if (structuredReplies) writeOffsetDataHeader(reply, req.cookie, offset, req.length);
    else writeSimpleReply(reply, req.cookie, 0);
    return writer.writeReleasing(reply.subarray(0, total), (reusable) => {
      if (reusable) pool.give(reply);
    });
  };

  const performRead = async (req: NbdRequest, offset: number): Promise<void> => {
    if (readInto) return performReadInto(req, offset, readInto);
    let data: Uint8Array | undefined;
    let errno = 0;
    let message = '';
    try {
      data = await exp.read(offset, req.length);
      if (!(data instanceof Uint8Array) || data.length !== req.length) {
        const got = data instanceof Uint8Array ? `${data.length} bytes` : typeof data;
        throw new Error(`export returned ${got} instead of ${req.length} bytes`);
      }
    } catch (err) {
      data = undefined;
      ({ errno, message } = failRead(req, offset, err));
    }
    if (socketClosed) return;
    if (!data) return sendStatus(req, errno, message);
    if (structuredReplies) return writer.write(encodeOffsetDataHeader(req.cookie, offset, data.length), data);
    return writer.write(encodeSimpleReply(req.cookie, 0), data);
  };

  const shared = settings.serverInflight;
  const startRead = (req: NbdRequest, offset: number): void => {
    inflightBytes += req.length;
    shared.bytes += req.length;
    const p: Promise<void> = performRead(req, offset)
      .catch((err: unknown) => {
        settings.logger.warn('nbd: sending read reply failed', { peer: ctx.peer, error: describeError(err) });
      })
      .finally(() => {
        inflightBytes -= req.length;
        shared.bytes -= req.length;
        inflight.delete(p);
      });
    inflight.add(p);
  };

  /** Wait until one in-flight read completes or the socket closes. */
  const waitForSlot = (): Promise<unknown> => Promise.race([...inflight, closed]);

  const handle = async (req: NbdRequest): Promise<'continue' | 'disconnect'> => {
    switch (req.type) {
      case NBD_CMD_READ: {
        if ((req.flags & ~(NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_DF)) !== 0) {
          await sendStatus(req, NBD_ERR.EINVAL, `unsupported read flags 0x${req.flags.toString(16)}`);
        } else if ((req.flags & NBD_CMD_FLAG_DF) !== 0 && !structuredReplies) {
          await sendStatus(req, NBD_ERR.EINVAL, 'NBD_CMD_FLAG_DF requires structured replies');
        } else if (req.length > settings.maxReadLength) {
          await sendStatus(req, NBD_ERR.EINVAL, `read length ${req.length} exceeds ${settings.maxReadLength}`);
        } else if (req.offset + BigInt(req.length) > size) {
          await sendStatus(req, NBD_ERR.EINVAL, `read ${req.offset}+${req.length} beyond export size ${size}`);
        } else if (req.length === 0) {
          await sendStatus(req, 0, '');
        } else {
          const over = () => inflightBytes + req.length > settings.maxInflightBytes || shared.bytes + req.length > shared.max;
          while (inflight.size > 0 && over() && !socketClosed) {
            await waitForSlot();
          }
          if (!socketClosed) startRead(req, Number(req.offset));
        }
        return 'continue';
      }
      case NBD_CMD_WRITE:
        if (req.length > maxWritePayload(settings)) {
          throw new NbdProtocolError(`write payload of ${req.length} bytes is too large to discard`);
        }
        await reader.skip(req.length);
        await sendStatus(req, NBD_ERR.EPERM, 'export is read-only');
        return 'continue';
      case NBD_CMD_TRIM:
      case NBD_CMD_WRITE_ZEROES:
        await sendStatus(req, NBD_ERR.EPERM, 'export is read-only');
        return 'continue';
      case NBD_CMD_FLUSH:
        await sendStatus(req, 0, '');
        return 'continue';
      case NBD_CMD_CACHE:
        // Accepted as a no-op hint when in range.
        if (req.offset + BigInt(req.length) > size) {
          await sendStatus(req, NBD_ERR.EINVAL, `cache ${req.offset}+${req.length} beyond export size ${size}`);
        } else {
          await sendStatus(req, 0, '');
        }
        return 'continue';
      case NBD_CMD_DISC:
        return 'disconnect';
      default:
        // Includes NBD_CMD_BLOCK_STATUS: no metadata context can have been negotiated.
        await sendStatus(req, NBD_ERR.EINVAL, `unsupported command ${req.type}`);
        return 'continue';
    }
  };

  let finishInflight = false;
  try {
    for (;;) {
      while (inflight.size >= settings.maxInflight && !socketClosed) await waitForSlot();
      if (socketClosed) return 'socket-closed';
      const header = await reader.readOrEof(REQUEST_HEADER_SIZE);
      if (!header) return 'client-eof';
      const req = parseRequest(header);
      if ((await handle(req)) === 'disconnect') {
        finishInflight = true;
        return 'disconnect-command';
      }
    }
  } finally {
    // After a soft disconnect (or on shutdown) answer what was already asked, unless the peer is gone.
    if (finishInflight || ctx.isShuttingDown()) {
      while (inflight.size > 0 && !socketClosed) await waitForSlot();
    }
  }
}
