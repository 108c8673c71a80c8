import { describe, expect, it } from 'vitest';
import { decodeDataBlob, encodeDataBlob } from './blob.js';
import { parseCaibx } from './caibx.js';
import { writeCaibx } from './caibx-writer.js';
import { crc32 } from './crc32.js';
import { parseDynamicIndex, writeDynamicIndex } from './dynamic-index.js';
import { FormatError } from './errors.js';
import { parseFixedIndex, writeFixedIndex } from './fixed-index.js';
import { fakeDigest, mixedData, mutate, randInt, rng } from './test-helpers.js';
import type { ImageIndex } from './types.js';

const ROUNDS = 2000;

/** Throws (a plain Error, failing the test) unless a parsed index is internally consistent. */
function checkConsistent(idx: ImageIndex): void {
  const fail = (what: string): never => {
    throw new Error(`inconsistent ${idx.format} index: ${what}`);
  };
  if (!Number.isSafeInteger(idx.size) || idx.size < 0) fail(`size ${idx.size}`);
  let prev = 0;
  for (let i = 0; i < idx.chunkCount; i++) {
    const [start, end] = [idx.chunkStart(i), idx.chunkEnd(i)];
    if (start !== prev || !(end > start)) fail(`chunk ${i} is [${start}, ${end}) after ${prev}`);
    if (idx.findChunk(start) !== i || idx.findChunk(end - 1) !== i) fail(`findChunk misses chunk ${i}`);
    if (!/^[0-9a-f]{64}$/.test(idx.chunkDigest(i)) || idx.chunkDigestBytes(i).length !== 32) fail(`digest ${i}`);
    prev = end;
  }
  if (prev !== idx.size) fail(`last end ${prev} != size ${idx.size}`);
  if (idx.findChunk(idx.size) !== -1 || idx.findChunk(-1) !== -1) fail('findChunk outside [0, size)');
}

function fuzz(seed: number, valid: Buffer, hot: number[], parse: (b: Buffer, r: () => number) => ImageIndex): Record<string, number> {
  const r = rng(seed);
  const outcomes: Record<string, number> = {};
  for (let i = 0; i < ROUNDS; i++) {
    const input = mutate(r, valid, hot);
    let key: string;
    try {
      checkConsistent(parse(input, r));
      key = 'ok';
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      key = err.code;
    }
    outcomes[key] = (outcomes[key] ?? 0) + 1;
  }
  if (process.env.FUZZ_VERBOSE) console.log(seed, outcomes);
  return outcomes;
}

const ENTRIES = Array.from({ length: 20 }, (_, i) => ({ end: (i + 1) * 5000 + (i % 3), digest: fakeDigest(i) }));
const PBS_HOT = [0, 7, 24, 32, 64, 65, 70, 72, 73, 78, 79, 4096, 4100, 4103, 4136];

describe('parser fuzzing: a consistent index or a FormatError, never anything else', () => {
  it('fidx', () => {
    const valid = writeFixedIndex({ size: 20 * 4096 - 7, chunkSize: 4096, digests: ENTRIES.map((e) => e.digest) });
    const out = fuzz(1, valid, PBS_HOT, (b, r) => parseFixedIndex(b, { verifyChecksum: r() < 0.5 }));
    expect(out.ok).toBeGreaterThan(0);
    expect(Object.keys(out).length).toBeGreaterThan(3);
  });

  it('didx', () => {
    const valid = writeDynamicIndex({ entries: ENTRIES });
    const out = fuzz(2, valid, PBS_HOT, (b, r) => parseDynamicIndex(b, { verifyChecksum: r() < 0.5 }));
    expect(out.ok).toBeGreaterThan(0);
    expect(out['index-order']).toBeGreaterThan(0);
  });

  it('caibx', () => {
    const valid = writeCaibx({ entries: ENTRIES });
    const tail = valid.length - 40;
    const hot = [0, 8, 16, 24, 32, 40, 48, 56, 64, 71, 104, tail, tail + 8, tail + 16, tail + 24, tail + 32, tail - 40];
    const out = fuzz(3, valid, hot, (b) => parseCaibx(b));
    expect(out.ok).toBeGreaterThan(0);
    expect(out['index-tail']).toBeGreaterThan(0);
  });

  it('DataBlob (with and without a repaired CRC)', () => {
    const r = rng(4);
    const blobs = [encodeDataBlob(mixedData(r, 30_000)), encodeDataBlob(mixedData(r, 3000), { compress: false })];
    for (let i = 0; i < ROUNDS; i++) {
      const input = mutate(r, blobs[i % 2]!, [0, 8, 12, 16, 17]);
      if (randInt(r, 2) === 0 && input.length >= 12) input.writeUInt32LE(crc32(input.subarray(12)), 8);
      try {
        expect(Buffer.isBuffer(decodeDataBlob(input))).toBe(true);
      } catch (err) {
        if (!(err instanceof FormatError)) throw err;
      }
    }
  });
});
