import { gunzipSync } from 'node:zlib';
import { asBuffer } from './bytes.js';
import { FormatError } from './errors.js';
import { DEFAULT_MAX_DECODED_SIZE } from './limits.js';
import type { DecodeOptions } from './types.js';
import { ZSTD_MAGIC, zstdCompress, zstdDecompress } from './zstd.js';

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** Encodes a chunk as a casync .cacnk object: one zstd frame (level 1). */
export function encodeCasyncChunk(plain: Uint8Array): Buffer {
  return zstdCompress(plain, 1);
}

/**
 * Decodes a casync .cacnk object. casync's default is zstd (streaming frames, no content
 * size); stores made with --compression=gzip are decoded too; xz is refused.
 */
export function decodeCasyncChunk(obj: Uint8Array, opts: DecodeOptions = {}): Buffer {
  const buf = asBuffer(obj);
  const maxSize = opts.maxSize ?? DEFAULT_MAX_DECODED_SIZE;
  if (startsWith(buf, ZSTD_MAGIC)) return zstdDecompress(buf, maxSize);
  if (startsWith(buf, GZIP_MAGIC)) return gunzip(buf, maxSize);
  if (startsWith(buf, XZ_MAGIC)) {
    throw new FormatError('chunk-compression', 'casync chunk: xz-compressed chunks are not supported (use casync --compression=zstd)');
  }
  throw new FormatError('chunk-compression', `casync chunk: unknown compression (first bytes ${buf.subarray(0, 6).toString('hex') || 'none: empty object'})`);
}

function gunzip(buf: Buffer, maxSize: number): Buffer {
  try {
    return gunzipSync(buf, { maxOutputLength: Math.max(1, maxSize) });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      throw new FormatError('gzip-too-large', `casync chunk: gzip output is larger than the ${maxSize}-byte limit`, { cause: err });
    }
    const msg = err instanceof Error ? err.message : String(err);
    throw new FormatError('gzip-corrupt', `casync chunk: corrupt gzip data (${buf.length} bytes): ${msg}`, { cause: err });
  }
}

function startsWith(buf: Buffer, magic: Buffer): boolean {
  return buf.length >= magic.length && buf.subarray(0, magic.length).equals(magic);
}
