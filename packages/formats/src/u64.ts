import { FormatError } from './errors.js';

const TWO_32 = 0x1_0000_0000;
/** Largest high word that keeps a u64 within Number.MAX_SAFE_INTEGER (2^53 - 1). */
const MAX_SAFE_HIGH = 0x1f_ffff;

/** Reads a little-endian u64 as a Number; throws 'index-overflow' when it exceeds 2^53 - 1. */
export function readSafeU64(buf: Buffer, offset: number, what: string): number {
  const lo = buf.readUInt32LE(offset);
  const hi = buf.readUInt32LE(offset + 4);
  if (hi > MAX_SAFE_HIGH) {
    throw new FormatError('index-overflow', `${what} is ${buf.readBigUInt64LE(offset)}, larger than 2^53-1 (the largest size Larder handles)`);
  }
  return hi * TWO_32 + lo;
}

/** Writes a non-negative safe integer as a little-endian u64. */
export function writeU64(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32LE(value % TWO_32, offset);
  buf.writeUInt32LE(Math.floor(value / TWO_32), offset + 4);
}
