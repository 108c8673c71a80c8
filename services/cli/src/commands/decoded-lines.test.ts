import { describe, expect, it } from 'vitest';
import { decodedLines } from './decoded-lines.js';

describe('decodedLines', () => {
  it('prints the decoded cache and the decoded copies on the volume, with corrupt copies and failed writes', () => {
    expect(
      decodedLines({
        decodedCache: { budgetBytes: 256 * 2 ** 20, usedBytes: 2 ** 20, hits: 5, misses: 2 },
        decodedSpill: { budgetBytes: 2 * 2 ** 30, usedBytes: 3 * 2 ** 20, chunks: 7, failedWrites: 1, corrupt: 2 },
      }),
    ).toEqual(['decoded cache    1.00 MiB of 256 MiB, 5 hits / 2 misses', 'decoded spill    3.00 MiB of 2.00 GiB in 7 chunks, 2 corrupt, 1 failed writes']);
  });

  it('prints nothing for sections a gateway does not report', () => {
    expect(decodedLines({})).toEqual([]);
    expect(decodedLines({ decodedSpill: null })).toEqual([]);
  });
});
