import { asBuffer } from './bytes.js';

const ZERO_BLOCK = Buffer.alloc(64 * 1024);

/** Fast all-zero check (memcmp against a shared zero block); true for empty input. */
export function isZeroChunk(data: Uint8Array): boolean {
  const buf = asBuffer(data);
  for (let off = 0; off < buf.length; off += ZERO_BLOCK.length) {
    const end = Math.min(off + ZERO_BLOCK.length, buf.length);
    if (!buf.subarray(off, end).equals(ZERO_BLOCK.subarray(0, end - off))) return false;
  }
  return true;
}
