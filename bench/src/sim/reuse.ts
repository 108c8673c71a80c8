import { Lru } from './policies/lru.js';
import type { Trace } from './trace.js';

/**
 * Reuse distance of each reference: bytes of other distinct chunks referenced since the chunk's previous
 * reference (LRU hits exactly when it is below the capacity), -1 for a first reference. A Fenwick tree over
 * reference positions, each chunk counted at its latest position: O(n log n).
 */
export function reuseDistances(trace: Trace): Float64Array {
  const n = trace.refs.length;
  const tree = new Float64Array(n + 1);
  const add = (i: number, v: number): void => {
    for (let j = i + 1; j <= n; j += j & -j) tree[j] = (tree[j] as number) + v;
  };
  const prefix = (i: number): number => {
    let s = 0;
    for (let j = i + 1; j > 0; j -= j & -j) s += tree[j] as number;
    return s;
  };
  const last = new Map<number, number>();
  const out = new Float64Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const id = trace.refs[i] as number;
    const size = trace.sizes[id] as number;
    const p = last.get(id);
    if (p !== undefined) {
      out[i] = prefix(i - 1) - prefix(p);
      add(p, -size);
    }
    add(i, size);
    last.set(id, i);
  }
  return out;
}

/** Where LRU's misses are at one cache size, and how well simple online signals predict a reuse LRU misses. */
export interface ReuseReport {
  share: number;
  lruMisses: number;
  /** Share of LRU's misses: first references, and re-references by reuse distance in capacities. */
  missesBy: { cold: number; upTo2x: number; upTo4x: number; upTo8x: number; beyond8x: number };
  /** P(a re-reference comes 1–4 × the capacity after the previous one), overall and given a signal. */
  longReuse: { all: number; firstReuse: number; previousAlsoLong: number; eightPlusEarlierRefs: number };
}

export function reuseReport(trace: Trace, distances: Float64Array, share: number): ReuseReport {
  const capacity = trace.uniqueBytes * share;
  const lru = new Lru(Math.floor(capacity));
  const by = { cold: 0, upTo2x: 0, upTo4x: 0, upTo8x: 0, beyond8x: 0 };
  const seen = new Map<number, { count: number; previous: number }>();
  const long = { all: [0, 0], firstReuse: [0, 0], previousAlsoLong: [0, 0], eightPlusEarlierRefs: [0, 0] };
  const isLong = (d: number): boolean => d >= capacity && d < 4 * capacity;
  const count = (k: keyof typeof long, hit: boolean): void => {
    long[k][0] = (long[k][0] as number) + (hit ? 1 : 0);
    long[k][1] = (long[k][1] as number) + 1;
  };
  let misses = 0;
  for (let i = 0; i < trace.refs.length; i++) {
    const id = trace.refs[i] as number;
    const d = distances[i] as number;
    if (!lru.access(id, trace.sizes[id] as number)) {
      misses++;
      const r = d / capacity;
      if (d < 0) by.cold++;
      else if (r < 2) by.upTo2x++;
      else if (r < 4) by.upTo4x++;
      else if (r < 8) by.upTo8x++;
      else by.beyond8x++;
    }
    const s = seen.get(id) ?? { count: 0, previous: -1 };
    if (d >= 0) {
      count('all', isLong(d));
      if (s.count === 1) count('firstReuse', isLong(d));
      if (isLong(s.previous)) count('previousAlsoLong', isLong(d));
      if (s.count >= 8) count('eightPlusEarlierRefs', isLong(d));
    }
    seen.set(id, { count: s.count + 1, previous: d });
  }
  const ratio = (k: keyof typeof long): number => (long[k][1] ? (long[k][0] as number) / long[k][1] : 0);
  const of = (x: number): number => (misses ? x / misses : 0);
  return {
    share,
    lruMisses: misses,
    missesBy: { cold: of(by.cold), upTo2x: of(by.upTo2x), upTo4x: of(by.upTo4x), upTo8x: of(by.upTo8x), beyond8x: of(by.beyond8x) },
    longReuse: { all: ratio('all'), firstReuse: ratio('firstReuse'), previousAlsoLong: ratio('previousAlsoLong'), eightPlusEarlierRefs: ratio('eightPlusEarlierRefs') },
  };
}
