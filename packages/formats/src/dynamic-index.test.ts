import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseDynamicIndex, writeDynamicIndex } from './dynamic-index.js';
import { expectFormatError, fakeDigest } from './test-helpers.js';

/** A .didx built by hand: csum = SHA-256 over (end_le_u64 || digest) for each entry. */
function handBuilt(entries: [bigint, Buffer][], csumOverride?: Buffer): Buffer {
  const head = Buffer.alloc(4096);
  Buffer.from([28, 145, 78, 165, 25, 186, 179, 205]).copy(head, 0);
  Buffer.alloc(16, 0x22).copy(head, 8);
  head.writeBigInt64LE(1_600_000_000n, 24);
  const hash = createHash('sha256');
  const recs = entries.map(([end, d]) => {
    const rec = Buffer.alloc(40);
    rec.writeBigUInt64LE(end, 0);
    d.copy(rec, 8);
    hash.update(rec.subarray(0, 8));
    hash.update(d);
    return rec;
  });
  (csumOverride ?? hash.digest()).copy(head, 32);
  return Buffer.concat([head, ...recs]);
}

const ENTRIES: [bigint, Buffer][] = [
  [1000n, fakeDigest(1)],
  [5000n, fakeDigest(2)],
  [5001n, fakeDigest(3)],
  [9000n, fakeDigest(4)],
];

describe('parseDynamicIndex', () => {
  it('parses a hand-built file', () => {
    const idx = parseDynamicIndex(handBuilt(ENTRIES));
    expect(idx.format).toBe('didx');
    expect([idx.size, idx.chunkCount, idx.ctime]).toEqual([9000, 4, 1_600_000_000]);
    expect(idx.uuid).toEqual(Buffer.alloc(16, 0x22));
    expect([0, 1, 2, 3].map((i) => [idx.chunkStart(i), idx.chunkEnd(i)])).toEqual([
      [0, 1000],
      [1000, 5000],
      [5000, 5001],
      [5001, 9000],
    ]);
    expect(idx.chunkDigest(3)).toBe('04'.repeat(32));
    expect(idx.chunkDigestBytes(0)).toEqual(fakeDigest(1));
  });

  it('finds chunks by binary search, matching a linear scan', () => {
    const idx = parseDynamicIndex(handBuilt(ENTRIES));
    const linear = (o: number): number => {
      for (let i = 0; i < idx.chunkCount; i++) if (o >= idx.chunkStart(i) && o < idx.chunkEnd(i)) return i;
      return -1;
    };
    for (const o of [-5, 0, 1, 999, 1000, 4999, 5000, 5001, 8999, 9000, 10_000, 2500.5]) {
      expect(idx.findChunk(o)).toBe(linear(o));
    }
  });

  it('handles an index with no entries', () => {
    const idx = parseDynamicIndex(handBuilt([]));
    expect([idx.size, idx.chunkCount, idx.findChunk(0)]).toEqual([0, 0, -1]);
  });

  it('round-trips through writeDynamicIndex byte for byte', () => {
    const entries = ENTRIES.map(([end, digest]) => ({ end: Number(end), digest }));
    const buf = writeDynamicIndex({ entries, uuid: Buffer.alloc(16, 0x22), ctime: 1_600_000_000 });
    expect(buf).toEqual(handBuilt(ENTRIES));
  });

  it('refuses short files, wrong magic and partial entries', () => {
    const good = handBuilt(ENTRIES);
    expectFormatError(() => parseDynamicIndex(good.subarray(0, 100)), 'index-short', /100 bytes/);
    expectFormatError(() => parseDynamicIndex(Buffer.alloc(4096)), 'index-magic');
    expectFormatError(() => parseDynamicIndex(good.subarray(0, good.length - 1)), 'index-size', /not a whole number of 40-byte entries/);
  });

  it('refuses zero-length and decreasing entries', () => {
    const zero: [bigint, Buffer][] = [
      [10n, fakeDigest(1)],
      [10n, fakeDigest(2)],
    ];
    expectFormatError(() => parseDynamicIndex(handBuilt(zero)), 'index-order', /chunk 1 has zero length/);
    expectFormatError(() => parseDynamicIndex(handBuilt([[0n, fakeDigest(1)]])), 'index-order', /chunk 0 has zero length/);
    const back: [bigint, Buffer][] = [
      [10n, fakeDigest(1)],
      [5n, fakeDigest(2)],
    ];
    expectFormatError(() => parseDynamicIndex(handBuilt(back)), 'index-order', /end before its start/);
  });

  it('refuses ends beyond 2^53-1', () => {
    expectFormatError(() => parseDynamicIndex(handBuilt([[1n << 53n, fakeDigest(1)]])), 'index-overflow', /chunk 0/);
    expect(parseDynamicIndex(handBuilt([[(1n << 53n) - 1n, fakeDigest(1)]])).size).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('verifies index_csum unless told not to', () => {
    const buf = handBuilt(ENTRIES, Buffer.alloc(32));
    expectFormatError(() => parseDynamicIndex(buf), 'index-csum', /header has 0{64}/);
    expect(parseDynamicIndex(buf, { verifyChecksum: false }).chunkCount).toBe(4);
  });
});

describe('writeDynamicIndex validation', () => {
  it('rejects bad entries', () => {
    const d = fakeDigest(1);
    expectFormatError(() => writeDynamicIndex({ entries: [{ end: 0, digest: d }] }), 'invalid-argument', /greater than the previous end 0/);
    expectFormatError(
      () =>
        writeDynamicIndex({
          entries: [
            { end: 5, digest: d },
            { end: 4, digest: d },
          ],
        }),
      'invalid-argument',
    );
    expectFormatError(() => writeDynamicIndex({ entries: [{ end: 2 ** 53, digest: d }] }), 'invalid-argument', /safe integer/);
    expectFormatError(() => writeDynamicIndex({ entries: [{ end: 5, digest: Buffer.alloc(33) }] }), 'invalid-argument', /digest/);
    expectFormatError(() => writeDynamicIndex({ entries: null as never }), 'invalid-argument', /array/);
  });
});
