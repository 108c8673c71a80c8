import { describe, expect, it } from 'vitest';
import { parseCaibx } from './caibx.js';
import { writeCaibx } from './caibx-writer.js';
import { expectFormatError, fakeDigest } from './test-helpers.js';

describe('writeCaibx validation and defaults', () => {
  it('raises the default chunkSizeMax to fit the largest chunk', () => {
    const idx = parseCaibx(writeCaibx({ entries: [{ end: 1_000_000, digest: fakeDigest(1) }] }));
    expect([idx.chunkSizeMin, idx.chunkSizeAvg, idx.chunkSizeMax]).toEqual([16384, 65536, 1_000_000]);
  });

  it('rejects inconsistent sizes and bad entries', () => {
    const entries = [{ end: 100_000, digest: fakeDigest(1) }];
    expectFormatError(() => writeCaibx({ entries, chunkSizeMax: 50_000 }), 'invalid-argument', /exceeds chunkSizeMax 50000/);
    expectFormatError(() => writeCaibx({ entries, chunkSizeMin: 5, chunkSizeAvg: 4, chunkSizeMax: 200_000 }), 'invalid-argument', /min <= avg <= max/);
    expectFormatError(() => writeCaibx({ entries, chunkSizeMin: 0 }), 'invalid-argument', /chunkSizeMin 0/);
    expectFormatError(() => writeCaibx({ entries, featureFlags: -1n }), 'invalid-argument', /featureFlags/);
    expectFormatError(() => writeCaibx({ entries: [{ end: 0, digest: fakeDigest(1) }] }), 'invalid-argument');
  });
});
