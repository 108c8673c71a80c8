import { describe, expect, it } from 'vitest';
import { digest, digestFromHex, isHexDigest } from './digest.js';
import { expectFormatError } from './test-helpers.js';

describe('digest', () => {
  it('computes SHA-256 (FIPS 180 "abc" vector)', () => {
    expect(digest('sha256', Buffer.from('abc')).toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('computes SHA-512/256 (FIPS 180 "abc" vector)', () => {
    expect(digest('sha512-256', Buffer.from('abc')).toString('hex')).toBe('53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23');
  });

  it('accepts plain Uint8Array views and returns 32 bytes', () => {
    const u8 = new Uint8Array([0, 97, 98, 99, 0]).subarray(1, 4);
    expect(digest('sha256', u8)).toEqual(digest('sha256', Buffer.from('abc')));
    expect(digest('sha512-256', new Uint8Array(0)).length).toBe(32);
  });

  it('refuses unknown algorithms with a FormatError', () => {
    expectFormatError(() => digest('md5' as never, Buffer.alloc(1)), 'invalid-argument', /md5/);
  });
});

describe('isHexDigest / digestFromHex', () => {
  const ok = 'a'.repeat(64);
  it('accepts exactly 64 lowercase hex characters', () => {
    expect(isHexDigest(ok)).toBe(true);
    expect(isHexDigest('0123456789abcdef'.repeat(4))).toBe(true);
  });

  it('rejects uppercase, wrong length and non-hex', () => {
    for (const bad of ['A'.repeat(64), 'a'.repeat(63), 'a'.repeat(65), 'g'.repeat(64), '', `${'a'.repeat(63)}\n`]) {
      expect(isHexDigest(bad)).toBe(false);
    }
    expect(isHexDigest(42 as never)).toBe(false);
  });

  it('parses hex to bytes and rejects bad input', () => {
    expect(digestFromHex(ok)).toEqual(Buffer.alloc(32, 0xaa));
    expectFormatError(() => digestFromHex('xyz'), 'digest-invalid', /xyz/);
  });
});
