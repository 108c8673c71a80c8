import { describe, expect, it } from 'vitest';
import { Lru } from './lru.js';
import { OrderedMap, type Policy } from './policy.js';
import { S3Fifo } from './s3fifo.js';
import { TwoQ } from './two-q.js';

const hits = (p: Policy, keys: number[], size = 1): number => keys.filter((k) => p.access(k, size)).length;
const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);
/** A full cache of 100 that has seen a hot set (keys 0..49) six times, each time among 60 keys used once. */
const warm = (p: Policy): void => {
  for (let round = 0; round < 6; round++) {
    hits(p, range(0, 50));
    hits(p, range(10_000 + round * 60, 60));
  }
};

describe('OrderedMap', () => {
  it('shifts the oldest entry, also after deletions and re-insertions', () => {
    const m = new OrderedMap<string>();
    for (const k of [1, 2, 3]) m.map.set(k, `v${k}`);
    m.map.delete(1);
    m.map.delete(2);
    m.map.set(2, 'again');
    expect(m.shift()).toEqual([3, 'v3']);
    expect(m.shift()).toEqual([2, 'again']);
    expect(m.shift()).toBeUndefined();
    m.map.set(9, 'late');
    expect(m.shift()).toEqual([9, 'late']);
    expect(m.map.size).toBe(0);
  });
});

describe('LRU (today’s index)', () => {
  it('evicts the least recently used bytes first; a hit refreshes recency', () => {
    const lru = new Lru(10);
    expect(lru.access(1, 4)).toBe(false);
    expect(lru.access(2, 4)).toBe(false);
    expect(lru.access(1, 4)).toBe(true);
    expect(lru.access(3, 4)).toBe(false); // 2 goes: used 4 + 4 + 4 > 10
    expect(lru.usedBytes()).toBe(8);
    expect(lru.access(1, 4)).toBe(true);
    expect(lru.access(2, 4)).toBe(false);
  });

  it('never admits a chunk larger than the cache', () => {
    const lru = new Lru(10);
    lru.access(1, 5);
    expect(lru.access(2, 11)).toBe(false);
    expect(lru.access(1, 5)).toBe(true);
    expect(lru.usedBytes()).toBe(5);
  });

  it('is flushed by a one-pass scan larger than the cache', () => {
    const lru = new Lru(100);
    warm(lru);
    hits(lru, range(1000, 500));
    expect(hits(lru, range(0, 50))).toBe(0);
  });
});

describe.each([
  ['S3-FIFO', (c: number) => new S3Fifo(c)],
  ['2Q', (c: number) => new TwoQ(c)],
])('%s', (_name, make) => {
  it('keeps the hot set through a one-pass scan larger than the cache', () => {
    const p = make(100);
    warm(p);
    hits(p, range(1000, 500));
    expect(hits(p, range(0, 50))).toBeGreaterThanOrEqual(45);
  });

  it('stays within its capacity in bytes with chunks of varied sizes', () => {
    const p = make(1000);
    for (let i = 0; i < 5000; i++) {
      p.access(i % 300, 1 + (((i % 300) * 7) % 60));
      expect(p.usedBytes()).toBeLessThanOrEqual(1000);
    }
  });

  it('admits a chunk seen again soon after it was pushed out into the protected queue', () => {
    const p = make(10);
    p.access(1, 1);
    hits(p, range(100, 12)); // 1 leaves the probation queue, its key is remembered
    expect(p.access(1, 1)).toBe(false);
    hits(p, range(200, 12)); // a second scan does not push it out again
    expect(p.access(1, 1)).toBe(true);
  });
});
