import { describe, expect, it } from 'vitest';
import { caibxDigestAlgorithm, parseCaibx } from './caibx.js';
import { writeCaibx } from './caibx-writer.js';
import { expectFormatError, fakeDigest } from './test-helpers.js';

interface Layout {
  entries: [bigint, Buffer][];
  flags?: bigint;
  sizes?: [bigint, bigint, bigint];
  headerSize?: bigint;
  type?: bigint;
  tableHead?: [bigint, bigint];
  tail?: bigint[];
}

/** A .caibx built by hand from casync's caformat.h layout. */
function handBuilt(l: Layout): Buffer {
  const u64 = (v: bigint): Buffer => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    return b;
  };
  const n = BigInt(l.entries.length);
  const sizes = l.sizes ?? [16384n, 65536n, 262144n];
  const parts = [
    u64(l.headerSize ?? 48n),
    u64(l.type ?? 0x96824d9c7b129ff9n),
    u64(l.flags ?? 0xb000000000000000n),
    ...sizes.map(u64),
    ...(l.tableHead ?? [0xffffffffffffffffn, 0xe75b9e112f17417dn]).map(u64),
    ...l.entries.flatMap(([end, d]) => [u64(end), d]),
    ...(l.tail ?? [0n, 0n, 48n, 16n + 40n * n + 40n, 0x4b4f050e5549ecd1n]).map(u64),
  ];
  return Buffer.concat(parts);
}

const ENTRIES: [bigint, Buffer][] = [
  [20_000n, fakeDigest(1)],
  [90_000n, fakeDigest(2)],
  [100_000n, fakeDigest(3)],
];

describe('parseCaibx', () => {
  it('parses a hand-built file', () => {
    const idx = parseCaibx(handBuilt({ entries: ENTRIES }));
    expect(idx.format).toBe('caibx');
    expect([idx.size, idx.chunkCount]).toEqual([100_000, 3]);
    expect(idx.featureFlags).toBe(0xb000000000000000n);
    expect([idx.chunkSizeMin, idx.chunkSizeAvg, idx.chunkSizeMax]).toEqual([16384, 65536, 262144]);
    expect(idx.digestAlgorithm).toBe('sha512-256');
    expect([idx.chunkStart(1), idx.chunkEnd(1)]).toEqual([20_000, 90_000]);
    expect(idx.chunkDigest(2)).toBe('03'.repeat(32));
    expect([idx.findChunk(0), idx.findChunk(19_999), idx.findChunk(20_000), idx.findChunk(99_999), idx.findChunk(100_000)]).toEqual([0, 0, 1, 2, -1]);
  });

  it('parses an empty index (header, table header, tail only)', () => {
    const idx = parseCaibx(handBuilt({ entries: [] }));
    expect([idx.size, idx.chunkCount, idx.findChunk(0)]).toEqual([0, 0, -1]);
  });

  it('derives the digest algorithm from the SHA512_256 feature flag', () => {
    expect(parseCaibx(handBuilt({ entries: ENTRIES, flags: 0x9000000000000000n })).digestAlgorithm).toBe('sha256');
    expect(caibxDigestAlgorithm(0x2000000000000000n)).toBe('sha512-256');
    expect(caibxDigestAlgorithm(0n)).toBe('sha256');
  });

  it('round-trips through writeCaibx byte for byte', () => {
    const entries = ENTRIES.map(([end, digest]) => ({ end: Number(end), digest }));
    expect(writeCaibx({ entries })).toEqual(handBuilt({ entries: ENTRIES }));
    const custom = writeCaibx({ entries, featureFlags: 0x9000000000000000n, chunkSizeMin: 1, chunkSizeAvg: 2, chunkSizeMax: 70_000 });
    expect(custom).toEqual(handBuilt({ entries: ENTRIES, flags: 0x9000000000000000n, sizes: [1n, 2n, 70_000n] }));
    expect(writeCaibx({ entries: [] })).toEqual(handBuilt({ entries: [] }));
  });

  it('refuses short files and a wrong index type', () => {
    expectFormatError(() => parseCaibx(Buffer.alloc(103)), 'index-short', /103 bytes, shorter than the 104-byte minimum/);
    expectFormatError(() => parseCaibx(handBuilt({ entries: ENTRIES, type: 1n })), 'index-magic', /wrong index type 0x1/);
  });

  it('refuses wrong header constants', () => {
    const e = ENTRIES;
    expectFormatError(() => parseCaibx(handBuilt({ entries: e, headerSize: 56n })), 'index-header', /header size is 56, expected 48/);
    expectFormatError(() => parseCaibx(handBuilt({ entries: e, tableHead: [0n, 0xe75b9e112f17417dn] })), 'index-header', /table header/);
    expectFormatError(() => parseCaibx(handBuilt({ entries: e, tableHead: [0xffffffffffffffffn, 5n] })), 'index-header', /table header/);
    expectFormatError(() => parseCaibx(handBuilt({ entries: e, sizes: [0n, 1n, 2n] })), 'index-header', /chunk_size_min is 0/);
    expectFormatError(() => parseCaibx(handBuilt({ entries: e, sizes: [1n, 1n, 1n << 40n] })), 'index-header', /chunk_size_max/);
    expectFormatError(() => parseCaibx(handBuilt({ entries: e, sizes: [300n, 200n, 400_000n] })), 'index-header', /min <= avg <= max/);
  });

  it('refuses a malformed tail, naming the bad field', () => {
    const good = [0n, 0n, 48n, 16n + 40n * 3n + 40n, 0x4b4f050e5549ecd1n];
    const names = ['first zero fill', 'second zero fill', 'index_offset', 'table size', 'marker'];
    good.forEach((_, i) => {
      const tail = [...good];
      tail[i] = tail[i]! + 1n;
      expectFormatError(() => parseCaibx(handBuilt({ entries: ENTRIES, tail })), 'index-tail', names[i]);
    });
  });

  it('refuses truncated or padded files', () => {
    const buf = handBuilt({ entries: ENTRIES });
    expectFormatError(() => parseCaibx(buf.subarray(0, buf.length - 1)), 'index-size', /not a whole number of 40-byte items/);
    expectFormatError(() => parseCaibx(buf.subarray(0, buf.length - 40)), 'index-tail');
    expectFormatError(() => parseCaibx(Buffer.concat([buf, Buffer.alloc(40)])), 'index-tail');
  });

  it('refuses non-monotonic, zero-length, oversized and overflowing entries', () => {
    const d = fakeDigest(1);
    expectFormatError(
      () =>
        parseCaibx(
          handBuilt({
            entries: [
              [10n, d],
              [10n, d],
            ],
          }),
        ),
      'index-order',
      /chunk 1 has zero length/,
    );
    expectFormatError(
      () =>
        parseCaibx(
          handBuilt({
            entries: [
              [10n, d],
              [9n, d],
            ],
          }),
        ),
      'index-order',
      /end before its start/,
    );
    expectFormatError(() => parseCaibx(handBuilt({ entries: [[300_000n, d]] })), 'index-chunk-size', /300000 bytes, larger than chunk_size_max 262144/);
    expectFormatError(() => parseCaibx(handBuilt({ entries: [[1n << 60n, d]] })), 'index-overflow');
  });
});
