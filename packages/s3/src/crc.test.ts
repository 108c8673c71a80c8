import { describe, expect, it } from 'vitest';
import { newChecksum, type ChecksumAlgorithm } from './crc.js';

const sum = (algorithm: ChecksumAlgorithm, ...parts: string[]): string => {
  const c = newChecksum(algorithm);
  for (const p of parts) c.update(Buffer.from(p));
  return c.digest();
};
const hexOf = (base64: string) => Buffer.from(base64, 'base64').toString('hex');

describe('checksums', () => {
  it('give the catalogued check values of "123456789"', () => {
    expect(hexOf(sum('crc32', '123456789'))).toBe('cbf43926');
    expect(hexOf(sum('crc32c', '123456789'))).toBe('e3069283');
    expect(hexOf(sum('crc64nvme', '123456789'))).toBe('ae8b14860a799888');
  });

  it('are the same fed in pieces', () => {
    for (const a of ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const) expect(sum(a, '1234', '', '56789')).toBe(sum(a, '123456789'));
  });

  it('match what S3 documents: CRC32 of "abc", CRC32C of 66560 × "a"', () => {
    expect(sum('crc32', 'abc')).toBe('NSRBwg==');
    expect(sum('crc32c', 'a'.repeat(66560))).toBe('sOO8/Q==');
    expect(sum('crc32', '')).toBe('AAAAAA==');
  });
});
