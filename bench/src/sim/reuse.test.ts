import { describe, expect, it } from 'vitest';
import { reuseDistances, reuseReport } from './reuse.js';
import type { Trace } from './trace.js';

const trace = (refs: number[], sizes: number[]): Trace => ({
  workload: 't',
  chunking: 'fixed4m',
  description: '',
  refs: Uint32Array.from(refs),
  scan: new Uint8Array(refs.length),
  sizes: Float64Array.from(sizes),
  uniqueBytes: sizes.reduce((s, v) => s + v, 0),
});

describe('reuse distances', () => {
  it('counts the bytes of other distinct chunks since the previous reference', () => {
    const t = trace([0, 1, 2, 1, 0, 0], [1, 2, 4]);
    expect(Array.from(reuseDistances(t))).toEqual([-1, -1, -1, 4, 6, 0]);
  });

  it('sorts LRU misses into first references and reuse distances in capacities', () => {
    // Capacity 2 of 4 one-byte chunks; a loop of 4 misses every time, at a reuse distance of 3 = 1.5 capacities.
    const t = trace([0, 1, 2, 3, 0, 1, 2, 3], [1, 1, 1, 1]);
    const r = reuseReport(t, reuseDistances(t), 0.5);
    expect(r.lruMisses).toBe(8);
    expect(r.missesBy).toEqual({ cold: 0.5, upTo2x: 0.5, upTo4x: 0, upTo8x: 0, beyond8x: 0 });
    expect(r.longReuse.all).toBe(1);
    expect(r.longReuse.firstReuse).toBe(1);
  });
});
