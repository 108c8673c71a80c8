import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseFixedIndex, writeFixedIndex } from './fixed-index.js';
import { expectFormatError, fakeDigest } from './test-helpers.js';

const MiB4 = 4 * 1024 * 1024;

/** A .fidx built by hand from the documented layout, independent of writeFixedIndex. */
function handBuilt(size: bigint, chunkSize: bigint, digests: Buffer[]): Buffer {
  const head = Buffer.alloc(4096);
  Buffer.from([47, 127, 65, 237, 145, 253, 15, 205]).copy(head, 0);
  Buffer.alloc(16, 0x11).copy(head, 8);
  head.writeBigInt64LE(1_700_000_000n, 24);
  const table = Buffer.concat(digests);
  createHash('sha256').update(table).digest().copy(head, 32);
  head.writeBigUInt64LE(size, 64);
  head.writeBigUInt64LE(chunkSize, 72);
  return Buffer.concat([head, table]);
}

describe('parseFixedIndex', () => {
  it('parses a hand-built file and computes chunk ranges', () => {
    const digests = [fakeDigest(1), fakeDigest(2), fakeDigest(3)];
    const size = 2 * MiB4 + 1000;
    const idx = parseFixedIndex(handBuilt(BigInt(size), BigInt(MiB4), digests));
    expect(idx.format).toBe('fidx');
    expect(idx.size).toBe(size);
    expect(idx.chunkSize).toBe(MiB4);
    expect(idx.chunkCount).toBe(3);
    expect(idx.uuid).toEqual(Buffer.alloc(16, 0x11));
    expect(idx.ctime).toBe(1_700_000_000);
    expect([idx.chunkStart(2), idx.chunkEnd(2)]).toEqual([2 * MiB4, size]);
    expect(idx.chunkEnd(0)).toBe(MiB4);
    expect(idx.chunkDigest(1)).toBe('02'.repeat(32));
    expect(idx.chunkDigestBytes(2)).toEqual(fakeDigest(3));
    expect([idx.findChunk(0), idx.findChunk(MiB4 - 1), idx.findChunk(MiB4), idx.findChunk(size - 1)]).toEqual([0, 0, 1, 2]);
    expect([idx.findChunk(size), idx.findChunk(-1), idx.findChunk(Number.NaN)]).toEqual([-1, -1, -1]);
  });

  it('handles an empty image', () => {
    const idx = parseFixedIndex(handBuilt(0n, BigInt(MiB4), []));
    expect([idx.size, idx.chunkCount, idx.findChunk(0)]).toEqual([0, 0, -1]);
  });

  it('round-trips through writeFixedIndex', () => {
    const digests = Array.from({ length: 5 }, (_, i) => fakeDigest(i + 1));
    const uuid = Buffer.alloc(16, 0x11);
    const buf = writeFixedIndex({ size: 4 * 65536 + 1, chunkSize: 65536, digests, uuid, ctime: 1_700_000_000 });
    expect(buf).toEqual(handBuilt(BigInt(4 * 65536 + 1), 65536n, digests));
    const idx = parseFixedIndex(buf);
    expect(idx.chunkCount).toBe(5);
    expect(idx.chunkEnd(4)).toBe(4 * 65536 + 1);
  });

  it('generates a v4 uuid and the current ctime by default', () => {
    const idx = parseFixedIndex(writeFixedIndex({ size: 1, chunkSize: 4096, digests: [fakeDigest(9)] }));
    expect(idx.uuid[6]! >> 4).toBe(4);
    expect(Math.abs(idx.ctime - Date.now() / 1000)).toBeLessThan(60);
  });

  it('refuses a truncated header and wrong magic', () => {
    const good = handBuilt(100n, 4096n, [fakeDigest(1)]);
    expectFormatError(() => parseFixedIndex(good.subarray(0, 4095)), 'index-short', /4095 bytes.*4096-byte header/);
    const bad = Buffer.from(good);
    bad[0] = 0;
    expectFormatError(() => parseFixedIndex(bad), 'index-magic', /wrong magic/);
  });

  it('refuses chunk_size 0 or not a power of two', () => {
    expectFormatError(() => parseFixedIndex(handBuilt(100n, 0n, [])), 'index-chunk-size', /chunk_size 0 /);
    expectFormatError(() => parseFixedIndex(handBuilt(100n, 3000n, [fakeDigest(1)])), 'index-chunk-size', /3000 is not a power of two/);
  });

  it('refuses a length that does not match size and chunk_size, with a specific message', () => {
    const buf = handBuilt(3_000_000n, BigInt(MiB4), [fakeDigest(1)]);
    expectFormatError(() => parseFixedIndex(buf.subarray(0, 4100)), 'index-size', 'fidx: file is 4100 bytes, expected 4128 for 1 chunk(s) of 4194304 bytes covering 3000000 bytes');
    expectFormatError(() => parseFixedIndex(Buffer.concat([buf, fakeDigest(2)])), 'index-size', /4160 bytes, expected 4128/);
  });

  it('refuses sizes beyond 2^53-1', () => {
    expectFormatError(() => parseFixedIndex(handBuilt(1n << 53n, BigInt(MiB4), [])), 'index-overflow', /9007199254740992/);
    expectFormatError(() => parseFixedIndex(handBuilt(100n, 1n << 60n, [])), 'index-overflow', /chunk_size/);
    // A huge but safe size never allocates: it simply does not match the file length.
    expectFormatError(() => parseFixedIndex(handBuilt((1n << 53n) - 1n, 1n, [])), 'index-size');
  });

  it('verifies index_csum unless told not to', () => {
    const buf = handBuilt(100n, 4096n, [fakeDigest(1)]);
    buf[4096] = 0xff;
    expectFormatError(() => parseFixedIndex(buf), 'index-csum', /index_csum mismatch: header has [0-9a-f]{64}, .* hashes to [0-9a-f]{64}/);
    expect(parseFixedIndex(buf, { verifyChecksum: false }).chunkDigestBytes(0)[0]).toBe(0xff);
  });

  it('throws index-range for chunk numbers outside the index', () => {
    const idx = parseFixedIndex(handBuilt(100n, 4096n, [fakeDigest(1)]));
    for (const i of [-1, 1, 0.5]) expectFormatError(() => idx.chunkStart(i), 'index-range');
    expectFormatError(() => idx.chunkDigest(1), 'index-range', /chunk 1 is out of range \[0, 1\)/);
  });
});

describe('writeFixedIndex validation', () => {
  it('rejects bad arguments', () => {
    const d = [fakeDigest(1)];
    expectFormatError(() => writeFixedIndex({ size: 10, chunkSize: 3000, digests: d }), 'invalid-argument', /power of two/);
    expectFormatError(() => writeFixedIndex({ size: 10, chunkSize: 0, digests: d }), 'invalid-argument');
    expectFormatError(() => writeFixedIndex({ size: -1, chunkSize: 4096, digests: d }), 'invalid-argument');
    expectFormatError(() => writeFixedIndex({ size: 5000, chunkSize: 4096, digests: d }), 'invalid-argument', /1 digests given, expected 2/);
    expectFormatError(() => writeFixedIndex({ size: 10, chunkSize: 4096, digests: [Buffer.alloc(31)] }), 'invalid-argument', /digests\[0\]/);
    expectFormatError(() => writeFixedIndex({ size: 10, chunkSize: 4096, digests: d, uuid: Buffer.alloc(3) }), 'invalid-argument', /uuid/);
    expectFormatError(() => writeFixedIndex({ size: 10, chunkSize: 4096, digests: d, ctime: 1.5 }), 'invalid-argument', /ctime/);
  });
});
