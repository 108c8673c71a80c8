import { describe, expect, it } from 'vitest';
import { digest } from './digest.js';
import { rememberZeroDigests, zeroChunkDigest } from './zero.js';

describe('zeroChunkDigest', () => {
  it('is the digest of that many zero bytes, for both algorithms and lengths across the shared block', () => {
    for (const alg of ['sha256', 'sha512-256'] as const) {
      for (const len of [0, 1, 65_535, 65_536, 65_537, 4 * 1024 * 1024]) {
        expect(zeroChunkDigest(alg, len)).toBe(digest(alg, Buffer.alloc(len)).toString('hex'));
        expect(zeroChunkDigest(alg, len)).toBe(zeroChunkDigest(alg, len));
      }
    }
    expect(zeroChunkDigest('sha256', 10)).not.toBe(zeroChunkDigest('sha512-256', 10));
  });

  it('remembers many lengths at once, each the digest of that many zeros', () => {
    const lengths = [70_001, 3, 65_536, 3, 200_000, 131_072];
    rememberZeroDigests('sha512-256', lengths);
    for (const len of lengths) expect(zeroChunkDigest('sha512-256', len)).toBe(digest('sha512-256', Buffer.alloc(len)).toString('hex'));
  });
});
