import { describe, expect, it } from 'vitest';
import { expectFormatError } from './test-helpers.js';
import { readSafeU64, writeU64 } from './u64.js';

describe('u64 helpers', () => {
  it('round-trips values up to 2^53-1', () => {
    const b = Buffer.alloc(8);
    for (const v of [0, 1, 0xffffffff, 0x100000000, 1_234_567_890_123, Number.MAX_SAFE_INTEGER]) {
      writeU64(b, 0, v);
      expect(b.readBigUInt64LE(0)).toBe(BigInt(v));
      expect(readSafeU64(b, 0, 'v')).toBe(v);
    }
  });

  it('refuses 2^53 and above with index-overflow naming the field', () => {
    const b = Buffer.alloc(8);
    for (const v of [1n << 53n, 0xffffffffffffffffn]) {
      b.writeBigUInt64LE(v);
      expectFormatError(() => readSafeU64(b, 0, 'didx: end offset of chunk 7'), 'index-overflow', `didx: end offset of chunk 7 is ${v}`);
    }
  });
});
