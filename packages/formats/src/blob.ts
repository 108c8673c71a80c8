import { asBuffer } from './bytes.js';
import { crc32 } from './crc32.js';
import { FormatError } from './errors.js';
import { DEFAULT_MAX_DECODED_SIZE, MAX_BLOB_SIZE } from './limits.js';
import type { BlobKind, DecodeOptions, EncodeBlobOptions } from './types.js';
import { zstdCompress, zstdDecompress } from './zstd.js';

/** DataBlob magics: first 8 bytes of SHA-256("Proxmox Backup ... blob v1.0"), from file_formats.rs. */
export const BLOB_MAGIC: Record<BlobKind, Buffer> = {
  plain: Buffer.from([66, 171, 56, 7, 190, 131, 112, 161]),
  zstd: Buffer.from([49, 185, 88, 66, 111, 182, 163, 127]),
  encrypted: Buffer.from([123, 103, 133, 190, 34, 45, 76, 240]),
  'encrypted-zstd': Buffer.from([230, 89, 27, 191, 11, 191, 216, 11]),
};

/** Header bytes before the payload: magic + CRC32 (12), plus IV and tag (44) when encrypted. */
export const BLOB_HEADER_SIZE: Record<BlobKind, number> = { plain: 12, zstd: 12, encrypted: 44, 'encrypted-zstd': 44 };

const KINDS = Object.keys(BLOB_MAGIC) as BlobKind[];

/** The DataBlob variant named by the first 8 bytes, or undefined for an unknown magic. */
export function blobKind(bytes: Uint8Array): BlobKind | undefined {
  if (bytes.length < 8) return undefined;
  const head = asBuffer(bytes).subarray(0, 8);
  return KINDS.find((k) => BLOB_MAGIC[k].equals(head));
}

/** Wraps plain data as an unencrypted DataBlob, zstd level 1 when that is smaller (as PBS does). */
export function encodeDataBlob(plain: Uint8Array, opts: EncodeBlobOptions = {}): Buffer {
  const data = asBuffer(plain);
  if (data.length > MAX_BLOB_SIZE) {
    throw new FormatError('blob-too-large', `blob: ${data.length} bytes of data, more than the ${MAX_BLOB_SIZE}-byte DataBlob limit`);
  }
  if (opts.compress ?? true) {
    const frame = zstdCompress(data, 1);
    // PBS keeps the compressed form only when strictly shorter than the plain data.
    if (frame.length < data.length) return assemble('zstd', frame);
  }
  return assemble('plain', data);
}

function assemble(kind: 'plain' | 'zstd', payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(12 + payload.length);
  BLOB_MAGIC[kind].copy(out, 0);
  payload.copy(out, 12);
  out.writeUInt32LE(crc32(out.subarray(12)), 8);
  return out;
}

/** Checks magic and CRC32 of an unencrypted DataBlob and returns its (decompressed) data. */
export function decodeDataBlob(blob: Uint8Array, opts: DecodeOptions = {}): Buffer {
  const buf = asBuffer(blob);
  const maxSize = opts.maxSize ?? DEFAULT_MAX_DECODED_SIZE;
  if (buf.length < 12) {
    throw new FormatError('blob-short', `blob: ${buf.length} bytes, shorter than the 12-byte DataBlob header`);
  }
  const kind = blobKind(buf);
  if (kind === undefined) {
    throw new FormatError('blob-magic', `blob: unknown magic ${buf.subarray(0, 8).toString('hex')} (not a Proxmox DataBlob)`);
  }
  if (kind === 'encrypted' || kind === 'encrypted-zstd') {
    throw new FormatError('blob-encrypted', `blob: encrypted chunks are not supported (magic says ${kind})`);
  }
  if (buf.length > MAX_BLOB_SIZE + 12) {
    throw new FormatError('blob-too-large', `blob: ${buf.length} bytes, more than the ${MAX_BLOB_SIZE}-byte DataBlob limit`);
  }
  const payload = buf.subarray(12);
  const stored = buf.readUInt32LE(8);
  const actual = crc32(payload);
  if (stored !== actual) {
    throw new FormatError('blob-crc', `blob: CRC32 mismatch: header has ${hex32(stored)}, payload of ${payload.length} bytes gives ${hex32(actual)}`);
  }
  if (kind === 'plain') {
    if (payload.length > maxSize) {
      throw new FormatError('blob-too-large', `blob: ${payload.length} bytes of data, more than the ${maxSize}-byte limit`);
    }
    return payload;
  }
  try {
    return zstdDecompress(payload, maxSize);
  } catch (err) {
    if (err instanceof FormatError && err.code === 'zstd-too-large') {
      throw new FormatError('blob-too-large', `blob: decompressed data is larger than the ${maxSize}-byte limit`, { cause: err });
    }
    throw err;
  }
}

function hex32(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
