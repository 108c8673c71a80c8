import { describe, expect, it } from 'vitest';
import { ScratchBuffers } from './scratch-buffers.js';

describe('ScratchBuffers', () => {
  it('hands a given-back buffer out again for a size it fits, not for one far smaller or larger', () => {
    const s = new ScratchBuffers();
    const a = s.take(100_000);
    expect(a.length).toBeGreaterThanOrEqual(100_000);
    s.give(a);
    expect(s.take(10)).not.toBe(a); // would waste most of it
    expect(s.take(200_000)).not.toBe(a); // too small
    expect(s.take(90_000)).toBe(a);
    expect(s.reused).toBe(1);
  });

  it('keeps at most maxFreeBytes and maxFree buffers', () => {
    const s = new ScratchBuffers(200_000, 2);
    const bufs = [s.take(65536), s.take(65536), s.take(65536)];
    for (const b of bufs) s.give(b);
    expect([s.take(65536), s.take(65536)]).toEqual(expect.arrayContaining([bufs[1], bufs[2]]));
    const big = s.take(300_000);
    s.give(big);
    expect(s.take(300_000)).not.toBe(big);
  });
});
