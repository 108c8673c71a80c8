import {
  MAX_OPTION_LENGTH,
  MAX_STRING_LENGTH,
  NBD_FLAG_C_FIXED_NEWSTYLE,
  NBD_FLAG_C_NO_ZEROES,
  NBD_FLAG_CAN_MULTI_CONN,
  NBD_FLAG_HAS_FLAGS,
  NBD_FLAG_READ_ONLY,
  NBD_FLAG_SEND_DF,
  NBD_FLAG_SEND_FLUSH,
  NBD_IHAVEOPT,
  NBD_INFO_DESCRIPTION,
  NBD_INFO_NAME,
  NBD_OPT_ABORT,
  NBD_OPT_EXPORT_NAME,
  NBD_OPT_GO,
  NBD_OPT_INFO,
  NBD_OPT_LIST,
  NBD_OPT_STARTTLS,
  NBD_OPT_STRUCTURED_REPLY,
  NBD_REP_ACK,
  NBD_REP_ERR_INVALID,
  NBD_REP_ERR_PLATFORM,
  NBD_REP_ERR_POLICY,
  NBD_REP_ERR_SHUTDOWN,
  NBD_REP_ERR_TLS_REQD,
  NBD_REP_ERR_TOO_BIG,
  NBD_REP_ERR_UNKNOWN,
  NBD_REP_ERR_UNSUP,
  NBD_REP_INFO,
  NBD_REP_SERVER,
} from './constants.js';
import { statusOf } from '@larder/errors';
import { describeError, NbdProtocolError } from './errors.js';
import { NbdTlsError } from './tls.js';
import type { SocketReader } from './socket-reader.js';
import type { SocketWriter } from './socket-writer.js';
import type { NbdClient, NbdExport, ServerSettings } from './types.js';
import { encodeExportNameReply, encodeGreeting, encodeInfoBlockSize, encodeInfoExport, encodeInfoString, encodeOptionReply, encodeServerEntry } from './wire.js';

/** What negotiation settled on; the caller owns (and must close) `export`. */
export interface HandshakeResult {
  readonly export: NbdExport;
  readonly client: NbdClient;
  readonly structuredReplies: boolean;
  readonly transmissionFlags: number;
}

export interface HandshakeContext {
  readonly reader: SocketReader;
  readonly writer: SocketWriter;
  readonly settings: ServerSettings;
  readonly peer: string;
  /**
   * Send `ack` (NBD_REP_ACK of NBD_OPT_STARTTLS) and upgrade the connection to TLS: resolves with the reader and writer
   * over TLS and the client's identity; rejects (NbdTlsError) when the handshake fails. Given when settings.tls is.
   */
  readonly startTls?: (ack: Uint8Array) => Promise<{ reader: SocketReader; writer: SocketWriter; identity: string | undefined; protocol: string | null }>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeName(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Transmission flags for an export, given whether structured replies were negotiated. */
export function transmissionFlagsFor(structuredReplies: boolean): number {
  const base = NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY | NBD_FLAG_SEND_FLUSH | NBD_FLAG_CAN_MULTI_CONN;
  // Reads are always answered with one data chunk, so NBD_CMD_FLAG_DF is trivially honoured.
  return structuredReplies ? base | NBD_FLAG_SEND_DF : base;
}

/** Parse the data of NBD_OPT_INFO / NBD_OPT_GO; undefined when malformed. */
export function parseInfoRequest(data: Buffer): { name: string; infos: number[] } | undefined {
  if (data.length < 6) return undefined;
  const nameLength = data.readUInt32BE(0);
  if (nameLength > data.length - 6 || nameLength > MAX_STRING_LENGTH) return undefined;
  const name = decodeName(data.subarray(4, 4 + nameLength));
  if (name === undefined) return undefined;
  const count = data.readUInt16BE(4 + nameLength);
  const rest = 4 + nameLength + 2;
  if (data.length !== rest + 2 * count) return undefined;
  const infos: number[] = [];
  for (let i = 0; i < count; i++) infos.push(data.readUInt16BE(rest + 2 * i));
  return { name, infos };
}

/**
 * The NBD_OPT_INFO / NBD_OPT_GO error for an export the provider could not open, by the status of its StatusError:
 * 400/404 no such export (NBD_REP_ERR_UNKNOWN), 401/403 refused (NBD_REP_ERR_POLICY), 422 an export that exists but cannot
 * be served as it is (NBD_REP_ERR_INVALID), 503/504 its source is unavailable for now (NBD_REP_ERR_SHUTDOWN: the
 * protocol's only "not now" answer; libnbd reports ESHUTDOWN). Anything else: NBD_REP_ERR_UNKNOWN. The message names the cause.
 */
export function openErrorReply(err: unknown): number {
  const status = statusOf(err);
  if (status === 400 || status === 404) return NBD_REP_ERR_UNKNOWN;
  if (status === 401 || status === 403) return NBD_REP_ERR_POLICY;
  if (status === 422) return NBD_REP_ERR_INVALID;
  if (status === 503 || status === 504) return NBD_REP_ERR_SHUTDOWN;
  return NBD_REP_ERR_UNKNOWN;
}

function checkExport(exp: NbdExport): string | undefined {
  if (!Number.isSafeInteger(exp.size) || exp.size < 0) return `export has invalid size ${String(exp.size)}`;
  return undefined;
}

function closeQuietly(exp: NbdExport | undefined, ctx: HandshakeContext): void {
  if (!exp?.close) return;
  try {
    exp.close();
  } catch (err) {
    ctx.settings.logger.warn('nbd: export close failed', { peer: ctx.peer, error: describeError(err) });
  }
}

/**
 * Run fixed-newstyle negotiation. Resolves with the chosen export, or undefined when the client
 * sent NBD_OPT_ABORT. Rejects on protocol violations and disconnects (any export opened is closed).
 */
export async function negotiate(ctx: HandshakeContext): Promise<HandshakeResult | undefined> {
  let { reader, writer } = ctx;
  const { settings } = ctx;
  const { provider, logger } = settings;
  let client: NbdClient = { peer: ctx.peer, tls: false };
  let structuredReplies = false;
  /** An export opened by NBD_OPT_INFO, kept for a following NBD_OPT_GO with the same name. */
  let held: { requested: string; exp: NbdExport } | undefined;

  const reply = (option: number, type: number, data?: Uint8Array): Promise<void> => writer.write(encodeOptionReply(option, type, data));
  const replyError = (option: number, type: number, message: string): Promise<void> => reply(option, type, Buffer.from(message, 'utf8'));

  /** Open `name`, reusing the export kept from NBD_OPT_INFO. Returns the error reply and its message on failure. */
  const openExport = async (name: string): Promise<NbdExport | { code: number; message: string }> => {
    if (held && held.requested === name) {
      const exp = held.exp;
      held = undefined;
      return exp;
    }
    closeQuietly(held?.exp, ctx);
    held = undefined;
    let exp: NbdExport | undefined;
    try {
      exp = await provider.open(name, client);
    } catch (err) {
      const meta = { peer: ctx.peer, export: name, error: describeError(err) };
      // No such export is the client's mistake (info); anything else is worth a warning.
      if (statusOf(err) === 400 || statusOf(err) === 404) logger.info('nbd: opening export failed', meta);
      else logger.warn('nbd: opening export failed', meta);
      return { code: openErrorReply(err), message: `cannot open export '${name}': ${describeError(err)}` };
    }
    if (!exp) return { code: NBD_REP_ERR_UNKNOWN, message: `unknown export '${name}'` };
    const problem = checkExport(exp);
    if (problem) {
      logger.warn(`nbd: ${problem}`, { peer: ctx.peer, export: name });
      closeQuietly(exp, ctx);
      return { code: NBD_REP_ERR_UNKNOWN, message: `cannot open export '${name}': ${problem}` };
    }
    return exp;
  };

  try {
    await writer.write(encodeGreeting());
    const clientFlags = (await reader.read(4)).readUInt32BE(0);
    if ((clientFlags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) !== 0) {
      throw new NbdProtocolError(`unknown client flags 0x${clientFlags.toString(16)}`);
    }
    const noZeroes = (clientFlags & NBD_FLAG_C_NO_ZEROES) !== 0;

    for (;;) {
      const header = await reader.read(16);
      if (header.readBigUInt64BE(0) !== NBD_IHAVEOPT) {
        throw new NbdProtocolError(`bad option magic 0x${header.readBigUInt64BE(0).toString(16)}`);
      }
      const option = header.readUInt32BE(8);
      const length = header.readUInt32BE(12);
      if (length > MAX_OPTION_LENGTH) {
        if (option !== NBD_OPT_EXPORT_NAME) {
          await replyError(option, NBD_REP_ERR_TOO_BIG, `option data too long (${length} bytes)`);
        }
        throw new NbdProtocolError(`option ${option} has oversized data (${length} bytes)`);
      }
      const data = await reader.read(length);

      if (settings.tls?.require && !client.tls && option !== NBD_OPT_STARTTLS && option !== NBD_OPT_ABORT) {
        // NBD_OPT_EXPORT_NAME has no error reply: the protocol says to end the session.
        if (option === NBD_OPT_EXPORT_NAME) throw new NbdTlsError('NBD_OPT_EXPORT_NAME before TLS, and TLS is required');
        await replyError(option, NBD_REP_ERR_TLS_REQD, 'TLS is required: send NBD_OPT_STARTTLS first');
        continue;
      }

      switch (option) {
        case NBD_OPT_EXPORT_NAME: {
          const name = decodeName(data);
          if (name === undefined) throw new NbdProtocolError('NBD_OPT_EXPORT_NAME with invalid UTF-8 name');
          const exp = await openExport(name);
          // No error reply exists for NBD_OPT_EXPORT_NAME: the session must simply end.
          if ('code' in exp) throw new NbdProtocolError(`NBD_OPT_EXPORT_NAME: ${exp.message}`);
          const transmissionFlags = transmissionFlagsFor(structuredReplies);
          try {
            await writer.write(encodeExportNameReply(exp.size, transmissionFlags, noZeroes));
          } catch (err) {
            closeQuietly(exp, ctx);
            throw err;
          }
          return { export: exp, client, structuredReplies, transmissionFlags };
        }

        case NBD_OPT_INFO:
        case NBD_OPT_GO: {
          const request = parseInfoRequest(data);
          if (!request) {
            await replyError(option, NBD_REP_ERR_INVALID, 'malformed NBD_OPT_INFO/NBD_OPT_GO request');
            break;
          }
          const exp = await openExport(request.name);
          if ('code' in exp) {
            await replyError(option, exp.code, exp.message);
            break;
          }
          const transmissionFlags = transmissionFlagsFor(structuredReplies);
          try {
            await reply(option, NBD_REP_INFO, encodeInfoExport(exp.size, transmissionFlags));
            if (request.infos.includes(NBD_INFO_NAME)) {
              await reply(option, NBD_REP_INFO, encodeInfoString(NBD_INFO_NAME, exp.name));
            }
            if (request.infos.includes(NBD_INFO_DESCRIPTION) && exp.description) {
              await reply(option, NBD_REP_INFO, encodeInfoString(NBD_INFO_DESCRIPTION, exp.description));
            }
            // Always sent: clients that did not ask may ignore it, and it documents our limits.
            await reply(option, NBD_REP_INFO, encodeInfoBlockSize(1, settings.preferredBlockSize, settings.maxReadLength));
            await reply(option, NBD_REP_ACK);
          } catch (err) {
            closeQuietly(exp, ctx);
            throw err;
          }
          if (option === NBD_OPT_GO) return { export: exp, client, structuredReplies, transmissionFlags };
          held = { requested: request.name, exp };
          break;
        }

        case NBD_OPT_LIST: {
          if (length !== 0) {
            await replyError(option, NBD_REP_ERR_INVALID, 'NBD_OPT_LIST takes no data');
            break;
          }
          let entries: { name: string; description?: string }[];
          try {
            entries = await provider.list(client);
          } catch (err) {
            logger.warn('nbd: listing exports failed', { peer: ctx.peer, error: describeError(err) });
            await replyError(option, NBD_REP_ERR_PLATFORM, `cannot list exports: ${describeError(err)}`);
            break;
          }
          for (const e of entries) {
            await reply(option, NBD_REP_SERVER, encodeServerEntry(e.name, e.description));
          }
          await reply(option, NBD_REP_ACK);
          break;
        }

        case NBD_OPT_ABORT:
          await reply(option, NBD_REP_ACK);
          return undefined;

        case NBD_OPT_STRUCTURED_REPLY:
          if (length !== 0) {
            await replyError(option, NBD_REP_ERR_INVALID, 'NBD_OPT_STRUCTURED_REPLY takes no data');
            break;
          }
          structuredReplies = true;
          await reply(option, NBD_REP_ACK);
          break;

        case NBD_OPT_STARTTLS: {
          if (!ctx.startTls) {
            await replyError(option, NBD_REP_ERR_POLICY, 'TLS is not configured on this server');
            break;
          }
          if (client.tls) {
            await replyError(option, NBD_REP_ERR_INVALID, 'TLS is already on');
            break;
          }
          if (length !== 0) {
            await replyError(option, NBD_REP_ERR_INVALID, 'NBD_OPT_STARTTLS takes no data');
            break;
          }
          // Nothing agreed in plain text carries over into the TLS session.
          structuredReplies = false;
          closeQuietly(held?.exp, ctx);
          held = undefined;
          const upgraded = await ctx.startTls(encodeOptionReply(option, NBD_REP_ACK));
          ({ reader, writer } = upgraded);
          client = { peer: ctx.peer, tls: true, identity: upgraded.identity };
          logger.info('nbd: TLS started', { peer: ctx.peer, identity: upgraded.identity, protocol: upgraded.protocol });
          break;
        }

        default:
          // Includes NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT (no block status support).
          await replyError(option, NBD_REP_ERR_UNSUP, `option ${option} is not supported`);
          break;
      }
    }
  } finally {
    closeQuietly(held?.exp, ctx);
  }
}
