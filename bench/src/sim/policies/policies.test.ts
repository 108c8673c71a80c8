import { describe, expect, it } from 'vitest';
import { Arc } from './arc.js';
import { Dip } from './dip.js';
import { LinkedList } from './linked-list.js';
import { Lirs } from './lirs.js';
import { Lru } from './lru.js';
import { OrderedMap, type Policy } from './policy.js';
import { S3Fifo } from './s3fifo.js';
import { S3FifoAdaptive } from './s3fifo-adaptive.js';
import { ScanHintLru } from './scan-hint-lru.js';
import { Sieve } from './sieve.js';
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

describe('LinkedList', () => {
  it('pushes at the tail', () => {
    const l = new LinkedList<number>();
    l.push(1);
    l.unshift(0);
    l.push(2);
    expect([l.head?.value, l.head?.next?.value, l.tail?.value, l.tail?.prev?.value, l.length]).toEqual([0, 1, 2, 1, 3]);
  });

  it('unshifts at the head, removes from the middle, moves to the head', () => {
    const l = new LinkedList<number>();
    const [a, b, c] = [1, 2, 3].map((v) => l.unshift(v)) as [ReturnType<typeof l.unshift>, ReturnType<typeof l.unshift>, ReturnType<typeof l.unshift>];
    l.remove(b);
    l.moveToHead(a);
    expect([l.head?.value, l.tail?.value, l.length]).toEqual([1, 3, 2]);
    l.remove(c);
    l.remove(a);
    expect([l.head, l.tail, l.length]).toEqual([undefined, undefined, 0]);
  });
});

describe.each([
  ['LIRS', (c: number) => new Lirs(c)],
  ['LIRS HIR=10%', (c: number) => new Lirs(c, 0.1)],
  ['SIEVE', (c: number) => new Sieve(c)],
  ['DIP', (c: number) => new Dip(c)],
  ['BIP', (c: number) => new Dip(c, 16, 32, 256, 'bip')],
])('%s', (_name, make) => {
  it('stays within its capacity in bytes with chunks of varied sizes', () => {
    const p = make(1000);
    for (let i = 0; i < 20_000; i++) {
      const k = i % 7 === 0 ? 10_000 + i : i % 300;
      p.access(k, 1 + ((k * 7) % 60));
      expect(p.usedBytes()).toBeLessThanOrEqual(1000);
    }
  });

  it('never admits a chunk larger than the cache', () => {
    const p = make(10);
    p.access(1, 5);
    expect(p.access(2, 11)).toBe(false);
    expect(p.access(1, 5)).toBe(true);
    expect(p.usedBytes()).toBe(5);
  });
});

describe('LIRS', () => {
  it('keeps the hot set through a one-pass scan larger than the cache', () => {
    const p = new Lirs(100);
    warm(p);
    hits(p, range(1000, 500));
    expect(hits(p, range(0, 50))).toBeGreaterThanOrEqual(45);
  });

  it('keeps part of a loop larger than the cache resident, where LRU hits nothing', () => {
    const loop = [...range(0, 150), ...range(0, 150), ...range(0, 150), ...range(0, 150)];
    const lru = new Lru(100);
    const lirs = new Lirs(100);
    expect(hits(lru, loop)).toBe(0);
    expect(hits(lirs, loop)).toBeGreaterThanOrEqual(3 * 90);
  });

  it('makes a chunk LIR when it comes back while its key is still in the stack', () => {
    const p = new Lirs(10, 0.1);
    hits(p, range(0, 9)); // 9 LIR chunks fill the LIR share
    p.access(100, 1); // HIR
    p.access(101, 1); // HIR; 100 is evicted, its key stays in S as a ghost
    expect(p.access(100, 1)).toBe(false);
    hits(p, range(200, 5)); // new HIR chunks come and go through Q
    expect(p.access(100, 1)).toBe(true); // it became LIR on its return
  });
});

describe('DIP', () => {
  const loop = [...range(0, 150), ...range(0, 150), ...range(0, 150), ...range(0, 150)];

  it('under BIP keeps part of a loop larger than the cache resident, where LRU hits nothing', () => {
    expect(hits(new Lru(100), loop)).toBe(0);
    expect(hits(new Dip(100, 16, 32, 256, 'bip'), loop)).toBeGreaterThanOrEqual(3 * 80);
  });

  it('turns to BIP when its shadows see a loop, and stays LRU on a recency-friendly stream', () => {
    const looped = new Dip(100, 1);
    hits(looped, loop); // the shadows learn while the real cache still inserts as LRU
    expect(hits(looped, [...range(0, 150), ...range(0, 150)])).toBeGreaterThanOrEqual(120);
    const recent = new Dip(100, 1);
    // Each key comes back once, 40 new keys later: LRU hits every return, BIP drops most before it.
    const stream = range(0, 2000).flatMap((i) => (i >= 40 ? [i, i - 40] : [i]));
    expect(hits(new Lru(100), stream)).toBe(1960);
    expect(hits(new Dip(100, 16, 32, 256, 'bip'), stream)).toBeLessThan(200);
    expect(hits(recent, stream)).toBeGreaterThanOrEqual(1900);
  });
});

describe('SIEVE', () => {
  it('loses the hot set to a one-pass scan of half the cache once the hand has cleared its bits', () => {
    // One visited bit buys a chunk one pass of the hand; the warm-up's last pass cleared them.
    const p = new Sieve(100);
    warm(p);
    hits(p, range(1000, 50));
    expect(hits(p, range(0, 50))).toBe(0);
  });

  it('evicts a new chunk before an older one that was hit', () => {
    const p = new Sieve(3);
    hits(p, [1, 2, 3, 1]);
    p.access(4, 1); // the hand clears 1's bit and evicts 2
    expect(hits(p, [1, 3, 4])).toBe(3);
    p.access(5, 1); // the hand, past 2, evicts 3 (unvisited since the bit of 1 was cleared)
    expect(p.access(3, 1)).toBe(false);
  });
});

describe('LRU + scan hint', () => {
  it('is LRU without hints', () => {
    const refs = Array.from({ length: 3000 }, (_, i) => (i * 7919) % 173);
    const lru = new Lru(100);
    const hinted = new ScanHintLru(100);
    expect(refs.map((k) => hinted.access(k, 1 + (k % 3)))).toEqual(refs.map((k) => lru.access(k, 1 + (k % 3))));
  });

  it('keeps the hot set through a hinted scan larger than the cache; a client hit still counts', () => {
    const p = new ScanHintLru(100);
    hits(p, range(0, 50));
    for (const k of range(1000, 500)) p.access(k, 1, true);
    p.access(1499, 1); // the scan's last chunk, used by a client: now the most recent
    expect(hits(p, range(0, 50))).toBe(50);
    expect(p.access(1499, 1)).toBe(true);
  });

  it('does not refresh a chunk on a scan hit, unless told to', () => {
    const plain = new ScanHintLru(2);
    const refresh = new ScanHintLru(2, true);
    for (const p of [plain, refresh]) {
      p.access(1, 1);
      p.access(2, 1);
      p.access(1, 1, true);
      p.access(3, 1);
    }
    expect([plain.access(1, 1), refresh.access(1, 1)]).toEqual([false, true]);
  });
});
