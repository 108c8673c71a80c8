import { describe, expect, it } from 'vitest';
import { Arc } from './arc.js';
import { Lru } from './lru.js';
import { OrderedMap, type Policy } from './policy.js';
import { S3Fifo } from './s3fifo.js';
import { S3FifoAdaptive } from './s3fifo-adaptive.js';
import { FrequencySketch, WTinyLfu } from './tinylfu.js';
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
  ['S3-FIFO adaptive', (c: number) => new S3FifoAdaptive(c)],
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

describe.each([
  ['W-TinyLFU', (c: number) => new WTinyLfu(c)],
  ['W-TinyLFU climbing', (c: number) => new WTinyLfu(c, 0.01, true)],
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
});

describe('ARC', () => {
  it('keeps chunks used twice through a scan while no ghost hit asked for more recency', () => {
    const arc = new Arc(100);
    hits(arc, range(0, 50));
    hits(arc, range(0, 50));
    hits(arc, range(1000, 500));
    expect(hits(arc, range(0, 50))).toBe(50);
  });

  it('moves its target towards recency on ghost hits of chunks seen once, and a later scan then flushes it', () => {
    // The known limit of ARC: the warm-up's hot set left T1 before its second use, so B1 hits raised p.
    const arc = new Arc(100);
    warm(arc);
    hits(arc, range(1000, 500));
    expect(hits(arc, range(0, 50))).toBeLessThan(45);
  });

  it('stays within its capacity in bytes with chunks of varied sizes', () => {
    const p = new Arc(1000);
    for (let i = 0; i < 5000; i++) {
      p.access(i % 300, 1 + (((i % 300) * 7) % 60));
      expect(p.usedBytes()).toBeLessThanOrEqual(1000);
    }
  });
});

describe('FrequencySketch', () => {
  it('counts up to 15 and halves on reset', () => {
    const s = new FrequencySketch(1024);
    for (let i = 0; i < 20; i++) s.increment(7);
    s.increment(8);
    expect(s.frequency(7)).toBe(15);
    expect(s.frequency(8)).toBeGreaterThanOrEqual(1);
    expect(s.frequency(9)).toBe(0);
    s.halve();
    expect(s.frequency(7)).toBe(7);
  });
});

describe('S3-FIFO adaptive', () => {
  it('grows its small queue when chunks come back just after leaving it (a staggered boot storm)', () => {
    // 5 "VMs" read the same 300 chunks in order, each starting 15 chunks after the previous one: a reuse distance
    // of 15 new chunks, more than a 10% small queue of a cache of 100 holds, and 75 chunks in use, which LRU holds.
    const plain = new S3Fifo(100);
    const adaptive = new S3FifoAdaptive(100);
    const lru = new Lru(100);
    const refs: number[] = [];
    for (let t = 0; t < 5 * 15 + 300; t++) for (let vm = 0; vm < 5; vm++) if (t - vm * 15 >= 0 && t - vm * 15 < 300) refs.push(t - vm * 15);
    const misses = (p: Policy) => refs.filter((k) => !p.access(k, 1)).length;
    const m = { plain: misses(plain), adaptive: misses(adaptive), lru: misses(lru) };
    expect(m.lru).toBe(300);
    expect(m.plain).toBeGreaterThanOrEqual(600); // each chunk misses again when its second reader comes
    expect(m.adaptive).toBeLessThan(1.25 * m.lru);
  });
});
