import { expectBytes, expectSafeUint } from './bytes.js';
import { FormatError } from './errors.js';
import type { IndexEntry, IndexFormat } from './types.js';
import { readSafeU64, writeU64 } from './u64.js';

/**
 * Reads `count` 40-byte records {end u64, digest[32]} starting at `offset`, checking that
 * ends strictly increase (no zero-length chunks) and stay within 2^53 - 1.
 */
export function readEnds(fmt: IndexFormat, buf: Buffer, offset: number, count: number, maxChunk = Infinity): Float64Array {
  const ends = new Float64Array(count);
  let prev = 0;
  for (let i = 0; i < count; i++) {
    const end = readSafeU64(buf, offset + i * 40, `${fmt}: end offset of chunk ${i}`);
    if (end <= prev) {
      const why = end === prev ? 'zero length' : 'an end before its start';
      throw new FormatError('index-order', `${fmt}: chunk ${i} has ${why} (end ${end}, previous end ${prev}); entries must strictly increase`);
    }
    if (end - prev > maxChunk) {
      throw new FormatError('index-chunk-size', `${fmt}: chunk ${i} is ${end - prev} bytes, larger than chunk_size_max ${maxChunk}`);
    }
    ends[i] = end;
    prev = end;
  }
  return ends;
}

/** Validates writer entries and packs them as 40-byte records into out at offset; returns the largest chunk length. */
export function packEntries(fmt: IndexFormat, entries: readonly IndexEntry[], out: Buffer, offset: number): number {
  if (!Array.isArray(entries)) throw new FormatError('invalid-argument', `${fmt}: entries must be an array`);
  let prev = 0;
  let largest = 0;
  entries.forEach((e, i) => {
    const end = expectSafeUint(e?.end, `${fmt}: entries[${i}].end`);
    if (end <= prev) {
      throw new FormatError('invalid-argument', `${fmt}: entries[${i}].end ${end} must be greater than the previous end ${prev}`);
    }
    largest = Math.max(largest, end - prev);
    prev = end;
    writeU64(out, offset + i * 40, end);
    expectBytes(e.digest, 32, `${fmt}: entries[${i}].digest`).copy(out, offset + i * 40 + 8);
  });
  return largest;
}
