import { describe, expect, it } from 'vitest';
import { OPTIMAL, replayOptimal } from './optimal.js';
import { Lru, S3Fifo } from './policies/index.js';
import { replay } from './replay.js';
import type { Trace } from './trace.js';
import { syntheticTrace } from './traces/synthetic.js';

const trace = (refs: number[], sizes: number[]): Trace => ({
  workload: 't',
  chunking: 'fixed4m',
  description: '',
  refs: Uint32Array.from(refs),
  scan: new Uint8Array(refs.length),
  sizes: Float64Array.from(sizes),
  uniqueBytes: sizes.reduce((s, v) => s + v, 0),
});

describe('the OPT bound', () => {
  it('evicts the chunk used farthest in the future', () => {
    // Room for 2 of 3: at the miss on 2, chunk 0 is used again next and 1 never, so 1 goes.
    const t = trace([0, 1, 2, 0, 2], [1, 1, 1]);
    expect(replayOptimal(t, 2 / 3)).toMatchObject({ policy: OPTIMAL, misses: 3 });
    expect(replay(t, { name: 'LRU', make: (c) => new Lru(c) }, 2 / 3).misses).toBe(4);
  });

  it('misses only the first references when everything fits, and never more than LRU or S3-FIFO', () => {
    const t = syntheticTrace('boot-storm', 'fixed4m');
    expect(replayOptimal(t, 1).misses).toBe(t.sizes.length);
    for (const share of [0.05, 0.25]) {
      const opt = replayOptimal(t, share).misses;
      expect(opt).toBeLessThanOrEqual(replay(t, { name: 'LRU', make: (c) => new Lru(c) }, share).misses);
      expect(opt).toBeLessThanOrEqual(replay(t, { name: 'S3-FIFO', make: (c) => new S3Fifo(c) }, share).misses);
    }
  });
});
