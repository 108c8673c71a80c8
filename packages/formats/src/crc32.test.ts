import { describe, expect, it } from 'vitest';
import { crc32, crc32Js } from './crc32.js';
import { randomBytesFrom, rng } from './test-helpers.js';

describe('crc32', () => {
  it('matches the IEEE check value for "123456789"', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32Js(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('is 0 for empty input and unsigned otherwise', () => {
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(Buffer.from('hello world'))).toBe(0x0d4a1185);
  });

  it('native and JS implementations agree on random data', () => {
    const r = rng(7);
    for (let i = 0; i < 20; i++) {
      const data = randomBytesFrom(r, i * 97);
      expect(crc32(data)).toBe(crc32Js(data));
    }
  });
});
