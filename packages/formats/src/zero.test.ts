import { describe, expect, it } from 'vitest';
import { isZeroChunk } from './zero.js';

describe('isZeroChunk', () => {
  it('accepts empty and all-zero data of any size', () => {
    expect(isZeroChunk(new Uint8Array(0))).toBe(true);
    expect(isZeroChunk(Buffer.alloc(1))).toBe(true);
    expect(isZeroChunk(Buffer.alloc(4 * 1024 * 1024))).toBe(true);
    expect(isZeroChunk(new Uint8Array(65_537))).toBe(true);
  });

  it('finds a single non-zero byte anywhere, including past the first block', () => {
    for (const at of [0, 1, 65_535, 65_536, 200_000, 4 * 1024 * 1024 - 1]) {
      const b = Buffer.alloc(4 * 1024 * 1024);
      b[at] = 1;
      expect(isZeroChunk(b)).toBe(false);
    }
  });

  it('works on subarray views', () => {
    const b = Buffer.alloc(100, 1);
    b.fill(0, 10, 90);
    expect(isZeroChunk(b.subarray(10, 90))).toBe(true);
    expect(isZeroChunk(new Uint8Array(b.buffer, b.byteOffset + 9, 10))).toBe(false);
  });
});
