import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeCasyncChunk, encodeCasyncChunk } from './casync-chunk.js';
import { expectFormatError, mixedData, rng } from './test-helpers.js';

describe('casync chunks', () => {
  it('encodes one zstd frame and round-trips', () => {
    const data = mixedData(rng(11), 70_000);
    const obj = encodeCasyncChunk(data);
    expect(obj.subarray(0, 4).toString('hex')).toBe('28b52ffd');
    expect(decodeCasyncChunk(obj).equals(data)).toBe(true);
  });

  it('decodes gzip chunks (casync --compression=gzip) and limits them', () => {
    const data = mixedData(rng(12), 70_000);
    expect(decodeCasyncChunk(gzipSync(data)).equals(data)).toBe(true);
    expectFormatError(() => decodeCasyncChunk(gzipSync(data), { maxSize: 1000 }), 'gzip-too-large');
    const bad = gzipSync(data);
    bad[bad.length - 6] = bad[bad.length - 6]! ^ 0xff; // break the trailer CRC
    expectFormatError(() => decodeCasyncChunk(bad), 'gzip-corrupt');
  });

  it('refuses xz and unknown compression clearly', () => {
    const xz = Buffer.from('fd377a585a000004e6d6b446', 'hex');
    expectFormatError(() => decodeCasyncChunk(xz), 'chunk-compression', /xz/);
    expectFormatError(() => decodeCasyncChunk(Buffer.from('plain text')), 'chunk-compression', /unknown compression/);
    expectFormatError(() => decodeCasyncChunk(Buffer.alloc(0)), 'chunk-compression', /empty/);
  });

  it('enforces the size limit for zstd chunks', () => {
    expectFormatError(() => decodeCasyncChunk(encodeCasyncChunk(Buffer.alloc(5000)), { maxSize: 4999 }), 'zstd-too-large');
  });
});
