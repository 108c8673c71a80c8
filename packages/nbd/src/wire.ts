// Encoders for the messages the server sends (all integers big-endian).
import {
  MAX_ERROR_MESSAGE_LENGTH,
  NBD_FLAG_FIXED_NEWSTYLE,
  NBD_FLAG_NO_ZEROES,
  NBD_IHAVEOPT,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_EXPORT,
  NBD_MAGIC,
  NBD_OPT_REPLY_MAGIC,
  NBD_REPLY_FLAG_DONE,
  NBD_REPLY_TYPE_ERROR,
  NBD_REPLY_TYPE_NONE,
  NBD_REPLY_TYPE_OFFSET_DATA,
  NBD_SIMPLE_REPLY_MAGIC,
  NBD_STRUCTURED_REPLY_MAGIC,
} from './constants.js';

/** The server's opening: NBDMAGIC, IHAVEOPT and the handshake flags. */
export function encodeGreeting(): Buffer {
  const b = Buffer.alloc(18);
  b.writeBigUInt64BE(NBD_MAGIC, 0);
  b.writeBigUInt64BE(NBD_IHAVEOPT, 8);
  b.writeUInt16BE(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES, 16);
  return b;
}

/** One option reply: header plus optional data. */
export function encodeOptionReply(option: number, type: number, data?: Uint8Array): Buffer {
  const len = data?.length ?? 0;
  const b = Buffer.alloc(20 + len);
  b.writeBigUInt64BE(NBD_OPT_REPLY_MAGIC, 0);
  b.writeUInt32BE(option >>> 0, 8);
  b.writeUInt32BE(type >>> 0, 12);
  b.writeUInt32BE(len, 16);
  if (data) b.set(data, 20);
  return b;
}

/** NBD_REP_SERVER data: name length, name, optional description. */
export function encodeServerEntry(name: string, description?: string): Buffer {
  const n = Buffer.from(name, 'utf8');
  const d = Buffer.from(description ?? '', 'utf8');
  const b = Buffer.alloc(4 + n.length + d.length);
  b.writeUInt32BE(n.length, 0);
  n.copy(b, 4);
  d.copy(b, 4 + n.length);
  return b;
}

/** NBD_REP_INFO data for NBD_INFO_EXPORT. */
export function encodeInfoExport(size: number, transmissionFlags: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(NBD_INFO_EXPORT, 0);
  b.writeBigUInt64BE(BigInt(size), 2);
  b.writeUInt16BE(transmissionFlags, 10);
  return b;
}

/** NBD_REP_INFO data for a string item (NBD_INFO_NAME, NBD_INFO_DESCRIPTION). */
export function encodeInfoString(infoType: number, value: string): Buffer {
  const s = Buffer.from(value, 'utf8');
  const b = Buffer.alloc(2 + s.length);
  b.writeUInt16BE(infoType, 0);
  s.copy(b, 2);
  return b;
}

/** NBD_REP_INFO data for NBD_INFO_BLOCK_SIZE. */
export function encodeInfoBlockSize(minimum: number, preferred: number, maximum: number): Buffer {
  const b = Buffer.alloc(14);
  b.writeUInt16BE(NBD_INFO_BLOCK_SIZE, 0);
  b.writeUInt32BE(minimum, 2);
  b.writeUInt32BE(preferred, 6);
  b.writeUInt32BE(maximum, 10);
  return b;
}

/** The reply to NBD_OPT_EXPORT_NAME: size, transmission flags and (unless NO_ZEROES) 124 zeroes. */
export function encodeExportNameReply(size: number, transmissionFlags: number, noZeroes: boolean): Buffer {
  const b = Buffer.alloc(noZeroes ? 10 : 134);
  b.writeBigUInt64BE(BigInt(size), 0);
  b.writeUInt16BE(transmissionFlags, 8);
  return b;
}

/** Bytes of a simple reply header. */
export const SIMPLE_REPLY_HEADER_SIZE = 16;
/** Bytes of an NBD_REPLY_TYPE_OFFSET_DATA chunk header (structured reply header plus the offset). */
export const OFFSET_DATA_HEADER_SIZE = 28;

/** A simple reply header (16 bytes); read data, if any, follows it. */
export function encodeSimpleReply(cookie: Uint8Array, errno: number): Buffer {
  const b = Buffer.alloc(SIMPLE_REPLY_HEADER_SIZE);
  writeSimpleReply(b, cookie, errno);
  return b;
}

/** Write a simple reply header into the first 16 bytes of `target` (read data goes right after it). */
export function writeSimpleReply(target: Buffer, cookie: Uint8Array, errno: number): void {
  target.writeUInt32BE(NBD_SIMPLE_REPLY_MAGIC, 0);
  target.writeUInt32BE(errno, 4);
  target.set(cookie, 8);
}

function chunkHeader(cookie: Uint8Array, flags: number, type: number, length: number, extra = 0): Buffer {
  const b = Buffer.alloc(20 + extra);
  b.writeUInt32BE(NBD_STRUCTURED_REPLY_MAGIC, 0);
  b.writeUInt16BE(flags, 4);
  b.writeUInt16BE(type, 6);
  b.set(cookie, 8);
  b.writeUInt32BE(length, 16);
  return b;
}

/** Header of a final NBD_REPLY_TYPE_OFFSET_DATA chunk (28 bytes); `dataLength` bytes follow it. */
export function encodeOffsetDataHeader(cookie: Uint8Array, offset: number, dataLength: number): Buffer {
  const b = Buffer.alloc(OFFSET_DATA_HEADER_SIZE);
  writeOffsetDataHeader(b, cookie, offset, dataLength);
  return b;
}

/** Write the header of a final NBD_REPLY_TYPE_OFFSET_DATA chunk into the first 28 bytes of `target`. */
export function writeOffsetDataHeader(target: Buffer, cookie: Uint8Array, offset: number, dataLength: number): void {
  target.writeUInt32BE(NBD_STRUCTURED_REPLY_MAGIC, 0);
  target.writeUInt16BE(NBD_REPLY_FLAG_DONE, 4);
  target.writeUInt16BE(NBD_REPLY_TYPE_OFFSET_DATA, 6);
  target.set(cookie, 8);
  target.writeUInt32BE(8 + dataLength, 16);
  // An offset is below 2^53: two 32-bit halves avoid a BigInt per reply.
  target.writeUInt32BE(Math.floor(offset / 2 ** 32), 20);
  target.writeUInt32BE(offset >>> 0, 24);
}

/** A final NBD_REPLY_TYPE_NONE chunk (success without data). */
export function encodeNoneChunk(cookie: Uint8Array): Buffer {
  return chunkHeader(cookie, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, 0);
}

/** A final NBD_REPLY_TYPE_ERROR chunk carrying `errno` and a human-readable message. */
export function encodeErrorChunk(cookie: Uint8Array, errno: number, message: string): Buffer {
  let msg: Buffer = Buffer.from(message, 'utf8');
  if (msg.length > MAX_ERROR_MESSAGE_LENGTH) msg = truncateUtf8(msg, MAX_ERROR_MESSAGE_LENGTH);
  const b = chunkHeader(cookie, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, 6 + msg.length, 6 + msg.length);
  b.writeUInt32BE(errno, 20);
  b.writeUInt16BE(msg.length, 24);
  msg.copy(b, 26);
  return b;
}

/** Cut UTF-8 bytes to at most `max` without splitting a code point. */
export function truncateUtf8(bytes: Buffer, max: number): Buffer {
  if (bytes.length <= max) return bytes;
  let end = max;
  // Step back over continuation bytes (10xxxxxx) so the cut lands on a code point boundary.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
