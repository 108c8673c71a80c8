import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { FormatError } from './errors.js';
import { expectFormatError, mixedData, mutate, rng } from './test-helpers.js';
import { zstdCompress, zstdDecompress } from './zstd.js';

const require = createRequire(import.meta.url);
const { Compressor } = require('zstd-napi') as typeof import('zstd-napi');

/** A streaming-style frame with no content size in its header (like casync and PBS write). */
function frameWithoutSize(data: Buffer, level = 3): Buffer {
  const c = new Compressor();
  c.setParameters({ compressionLevel: level, contentSizeFlag: false });
  return c.compress(data);
}

const HELLO = Buffer.from('hello world');
// Hand-built frames holding one raw block "hello world": magic, frame header, block header 0x59 = last|raw|size 11.
const RAW_NO_SIZE = Buffer.concat([Buffer.from('28b52ffd' + '00' + '00' + '590000', 'hex'), HELLO]);
const RAW_WITH_SIZE = Buffer.concat([Buffer.from('28b52ffd' + '20' + '0b' + '590000', 'hex'), HELLO]);

describe('zstdCompress / zstdDecompress', () => {
  it('round-trips mixed data at the default level and others', () => {
    const data = mixedData(rng(1), 300_000);
    for (const level of [undefined, 1, 3, 19]) {
      const frame = level === undefined ? zstdCompress(data) : zstdCompress(data, level);
      expect(frame.length).toBeLessThan(data.length);
      expect(zstdDecompress(frame).equals(data)).toBe(true);
    }
  });

  it('round-trips empty input', () => {
    expect(zstdDecompress(zstdCompress(Buffer.alloc(0))).length).toBe(0);
  });

  it('decodes hand-built frames with and without a content size', () => {
    expect(zstdDecompress(RAW_NO_SIZE).toString()).toBe('hello world');
    expect(zstdDecompress(RAW_WITH_SIZE).toString()).toBe('hello world');
  });

  it('decodes large streaming frames without a content size', () => {
    const data = mixedData(rng(2), 5 * 1024 * 1024 + 17);
    const frame = frameWithoutSize(data);
    expect(frame[4]! & 0xe0).toBe(0); // FHD: no content-size field, no single-segment flag
    expect(zstdDecompress(frame).equals(data)).toBe(true);
  });

  it('gives a result of its own size, not a view of a larger guess, for frames without a content size', () => {
    const data = mixedData(rng(3), 70_000);
    const out = zstdDecompress(frameWithoutSize(data));
    expect(out.equals(data)).toBe(true);
    expect(out.buffer.byteLength).toBeLessThanOrEqual(Math.ceil(data.length * 1.125) + 8192);
  });

  it('decodes concatenated frames and skippable frames', () => {
    const skippable = Buffer.from('502a4d18' + '03000000' + 'aabbcc', 'hex');
    const joined = Buffer.concat([zstdCompress(Buffer.from('abc')), skippable, frameWithoutSize(Buffer.from('def'))]);
    expect(zstdDecompress(joined).toString()).toBe('abcdef');
  });

  it('refuses output above maxSize whether or not the size is declared', () => {
    const data = Buffer.alloc(100_000, 7);
    expectFormatError(() => zstdDecompress(zstdCompress(data), 99_999), 'zstd-too-large', /declares 100000 bytes.*99999/);
    expectFormatError(() => zstdDecompress(frameWithoutSize(data), 99_999), 'zstd-too-large', /99999-byte limit/);
    expect(zstdDecompress(frameWithoutSize(data), 100_000).equals(data)).toBe(true);
    expect(zstdDecompress(zstdCompress(data), 100_000).equals(data)).toBe(true);
  });

  it('applies a default limit of 16 MiB plus slack', () => {
    const big = Buffer.alloc(20 * 1024 * 1024);
    expectFormatError(() => zstdDecompress(frameWithoutSize(big, 1)), 'zstd-too-large');
    expect(zstdDecompress(frameWithoutSize(Buffer.alloc(16 * 1024 * 1024), 1)).length).toBe(16 * 1024 * 1024);
  });

  it('reports empty, garbage and truncated input as zstd-corrupt', () => {
    expectFormatError(() => zstdDecompress(Buffer.alloc(0)), 'zstd-corrupt', /empty/);
    expectFormatError(() => zstdDecompress(Buffer.from('not zstd at all')), 'zstd-corrupt');
    const frame = frameWithoutSize(mixedData(rng(3), 200_000));
    expectFormatError(() => zstdDecompress(frame.subarray(0, frame.length - 5)), 'zstd-corrupt', /truncated|corrupt/);
    expectFormatError(() => zstdDecompress(RAW_NO_SIZE.subarray(0, 12)), 'zstd-corrupt');
    expectFormatError(() => zstdDecompress(Buffer.concat([frame, Buffer.from('junk')])), 'zstd-corrupt');
  });

  it('validates arguments', () => {
    expectFormatError(() => zstdCompress(HELLO, 99), 'invalid-argument', /level 99/);
    expectFormatError(() => zstdDecompress(RAW_NO_SIZE, -1), 'invalid-argument');
  });

  it('survives 2,000 random mutations: a Buffer or a FormatError, nothing else', () => {
    const r = rng(42);
    const frames = [frameWithoutSize(mixedData(r, 40_000)), zstdCompress(mixedData(r, 40_000)), RAW_NO_SIZE];
    for (let i = 0; i < 2000; i++) {
      const input = mutate(r, frames[i % frames.length]!, [4, 5, 6, 7, 8, 9]);
      try {
        expect(Buffer.isBuffer(zstdDecompress(input, 1 << 20))).toBe(true);
      } catch (err) {
        if (!(err instanceof FormatError)) throw err;
        expect(['zstd-corrupt', 'zstd-too-large']).toContain(err.code);
      }
    }
    // The shared decoder still works after all those errors.
    expect(zstdDecompress(RAW_NO_SIZE).toString()).toBe('hello world');
  });
});
