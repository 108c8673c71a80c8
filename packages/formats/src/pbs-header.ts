import { randomBytes } from 'node:crypto';
import { expectBytes } from './bytes.js';
import { digest } from './digest.js';
import { FormatError } from './errors.js';

/** Both Proxmox index headers are one 4096-byte page. */
export const PBS_HEADER_SIZE = 4096;

/** openssl::sha::sha256(b"Proxmox Backup fixed sized chunk index v1.0")[0..8] */
export const FIDX_MAGIC = Buffer.from([47, 127, 65, 237, 145, 253, 15, 205]);
/** openssl::sha::sha256(b"Proxmox Backup dynamic sized chunk index v1.0")[0..8] */
export const DIDX_MAGIC = Buffer.from([28, 145, 78, 165, 25, 186, 179, 205]);

/** The fields shared by .fidx and .didx headers: magic[8], uuid[16] @8, ctime i64 @24, index_csum[32] @32. */
export interface PbsHeader {
  uuid: Buffer;
  ctime: number;
  indexCsum: Buffer;
}

/** Checks length and magic, then reads uuid, ctime and index_csum. */
export function readPbsHeader(fmt: 'fidx' | 'didx', buf: Buffer, magic: Buffer): PbsHeader {
  if (buf.length < PBS_HEADER_SIZE) {
    throw new FormatError('index-short', `${fmt}: file is ${buf.length} bytes, shorter than the ${PBS_HEADER_SIZE}-byte header`);
  }
  if (!buf.subarray(0, 8).equals(magic)) {
    throw new FormatError('index-magic', `${fmt}: wrong magic ${buf.subarray(0, 8).toString('hex')}, expected ${magic.toString('hex')}`);
  }
  return {
    uuid: Buffer.from(buf.subarray(8, 24)),
    ctime: Number(buf.readBigInt64LE(24)),
    indexCsum: Buffer.from(buf.subarray(32, 64)),
  };
}

/** Throws 'index-csum' unless SHA-256 of the entry table equals the header's index_csum. */
export function verifyIndexCsum(fmt: 'fidx' | 'didx', header: PbsHeader, table: Buffer): void {
  const actual = digest('sha256', table);
  if (!actual.equals(header.indexCsum)) {
    throw new FormatError(
      'index-csum',
      `${fmt}: index_csum mismatch: header has ${header.indexCsum.toString('hex')}, the ${table.length}-byte entry table hashes to ${actual.toString('hex')}`,
    );
  }
}

/** Allocates a zeroed file with the common header filled in and index_csum = SHA-256(table). */
export function buildPbsFile(magic: Buffer, tableSize: number, opts: { uuid?: Uint8Array; ctime?: number }): Buffer {
  const out = Buffer.alloc(PBS_HEADER_SIZE + tableSize);
  magic.copy(out, 0);
  const uuid = opts.uuid === undefined ? randomUuid() : expectBytes(opts.uuid, 16, 'index uuid');
  uuid.copy(out, 8);
  const ctime = opts.ctime ?? Math.floor(Date.now() / 1000);
  if (!Number.isSafeInteger(ctime)) {
    throw new FormatError('invalid-argument', `index ctime must be an integer (seconds since the epoch), got ${ctime}`);
  }
  out.writeBigInt64LE(BigInt(ctime), 24);
  return out;
}

/** Writes index_csum = SHA-256 over everything after the header. */
export function sealPbsFile(out: Buffer): Buffer {
  digest('sha256', out.subarray(PBS_HEADER_SIZE)).copy(out, 32);
  return out;
}

function randomUuid(): Buffer {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40; // version 4
  b[8] = (b[8]! & 0x3f) | 0x80; // RFC 4122 variant
  return b;
}
