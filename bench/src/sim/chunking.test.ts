import { describe, expect, it } from 'vitest';
import { Boundaries, DIRTY_EXTENT, ImageSpace, KiB, MiB } from './chunking.js';
import { TraceBuilder } from './trace.js';
import { syntheticTrace } from './traces/synthetic.js';

describe('chunking', () => {
  it('cuts 4 MiB fixed chunks', () => {
    const b = new Boundaries('fixed4m', 1);
    expect(b.chunkAt(0)).toBe(0);
    expect(b.chunkAt(4 * MiB - 1)).toBe(0);
    expect(b.chunkAt(4 * MiB)).toBe(1);
    expect(b.range(2)).toEqual([8 * MiB, 12 * MiB]);
  });

  it('models CDC: the same boundaries for the same lineage, 16..256 KiB, ~64 KiB on average', () => {
    const a = new Boundaries('cdc64k', 7);
    const b = new Boundaries('cdc64k', 7);
    const last = a.chunkAt(256 * MiB);
    expect(b.chunkAt(256 * MiB)).toBe(last);
    let min = Infinity;
    let max = 0;
    for (let i = 0; i < last; i++) {
      const [s, e] = a.range(i);
      expect(b.range(i)).toEqual([s, e]);
      expect(a.chunkAt(s)).toBe(i);
      expect(a.chunkAt(e - 1)).toBe(i);
      min = Math.min(min, e - s);
      max = Math.max(max, e - s);
    }
    expect(min).toBeGreaterThanOrEqual(16 * KiB);
    expect(max).toBeLessThanOrEqual(256 * KiB);
    const mean = (256 * MiB) / last;
    expect(mean).toBeGreaterThan(56 * KiB);
    expect(mean).toBeLessThan(72 * KiB);
  });

  it('shares every chunk of a base except those a private extent overlaps', () => {
    const base = new Boundaries('fixed4m', 1);
    const a = new ImageSpace(100, base, 1, 64 * MiB, Float64Array.of(8 * MiB + 100));
    const b = new ImageSpace(101, base, 1, 64 * MiB);
    expect(a.key(0)).toBe(b.key(0));
    expect(a.key(2)).not.toBe(b.key(2));
    expect(a.key(3)).toBe(b.key(3));
    // An extent that starts in chunk 1 and runs into chunk 2 makes both private.
    const c = new ImageSpace(102, base, 1, 64 * MiB, Float64Array.of(8 * MiB - DIRTY_EXTENT / 2));
    expect(c.key(1)).not.toBe(b.key(1));
    expect(c.key(2)).not.toBe(b.key(2));
  });
});

describe('traces', () => {
  it('counts a stream reading on inside one chunk once', () => {
    const out = new TraceBuilder();
    const image = new ImageSpace(1, new Boundaries('fixed4m', 1), 1, 64 * MiB);
    for (let off = 0; off < 8 * MiB; off += 256 * KiB) out.read(1, image, off, 256 * KiB);
    out.read(2, image, 0, 1);
    expect(Array.from(out.build('t', 'fixed4m', '').refs)).toEqual([0, 1, 0]);
  });

  it('generates the same synthetic trace every time', () => {
    const a = syntheticTrace('boot-storm', 'fixed4m');
    const b = syntheticTrace('boot-storm', 'fixed4m');
    expect(a.refs.length).toBeGreaterThan(1000);
    expect(Buffer.from(a.refs.buffer).equals(Buffer.from(b.refs.buffer))).toBe(true);
    expect(a.uniqueBytes).toBe(b.uniqueBytes);
  });

  it('marks the references of restores and verifies as scans, and no others', () => {
    expect(syntheticTrace('boot-storm', 'fixed4m').scan.every((s) => s === 0)).toBe(true);
    const scans = syntheticTrace('scans', 'fixed4m');
    expect(scans.scan.length).toBe(scans.refs.length);
    expect(scans.scan.every((s) => s === 1)).toBe(true);
    const mixed = syntheticTrace('mixed', 'fixed4m').scan;
    const share = mixed.reduce((n, s) => n + s, 0) / mixed.length;
    expect(share).toBeGreaterThan(0.02);
    expect(share).toBeLessThan(0.5);
  });
});
