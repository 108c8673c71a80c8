import { describe, expect, it } from 'vitest';
import { BodyPool } from './body-pool.js';

const KiB = 2 ** 10;
const MiB = 2 ** 20;
/** How much more than a body's length its memory may be. */
const MAX_OVERHEAD = 0.04;

describe('BodyPool', () => {
  it('reuses the memory of a returned buffer for the next one of its size class', () => {
    const pool = new BodyPool(64 * MiB);
    const a = pool.take(4 * MiB + 12);
    expect(a.byteLength).toBe(4 * MiB + 12);
    pool.give(a);
    expect(pool.idle).toBe(a.buffer.byteLength);
    const b = pool.take(4 * MiB + 12);
    expect(b.buffer).toBe(a.buffer);
    expect(pool.idle).toBe(0);
    pool.give(b);
    const c = pool.take(4 * MiB + 1000); // a compressed body of about the same size shares the class
    expect(c.buffer).toBe(a.buffer);
    const small = pool.take(100);
    expect(small.buffer.byteLength).toBe(100);
  });

  it('holds at most a few percent more memory than asked, from casync chunks to 4 MiB + 12 byte pbs blobs and past', () => {
    const pool = new BodyPool(64 * MiB);
    const lengths = [1, 100, 4095, 4 * KiB, 16 * KiB - 1, 16 * KiB, 16 * KiB + 1, 20_000, 48 * KiB + 7, 64 * KiB, 64 * KiB + 1, 100_000, 256 * KiB, 256 * KiB + 41];
    lengths.push(1 * MiB - 1, 1 * MiB + 12, 3 * MiB + 5, 4 * MiB - 1, 4 * MiB, 4 * MiB + 12, 4 * MiB + 13, 6 * MiB, 8 * MiB + 12, 16 * MiB, 16 * MiB + 12, 32 * MiB);
    for (let n = 1000; n < 20 * MiB; n = Math.ceil(n * 1.037)) lengths.push(n);
    for (const length of lengths) {
      const buf = pool.take(length);
      expect(buf.byteLength).toBe(length);
      expect(buf.byteOffset).toBe(0);
      expect(buf.buffer.byteLength, `memory held for ${length} bytes`).toBeLessThanOrEqual(length * (1 + MAX_OVERHEAD));
      pool.give(buf);
      // A reused buffer obeys the same bound.
      const again = pool.take(length);
      expect(again.buffer.byteLength).toBeLessThanOrEqual(length * (1 + MAX_OVERHEAD));
      pool.give(again);
    }
  });

  it('keeps at most its retain budget idle and ignores buffers it did not hand out', () => {
    const pool = new BodyPool(128 * KiB);
    const bufs = [pool.take(64 * KiB), pool.take(64 * KiB), pool.take(64 * KiB)];
    for (const b of bufs) pool.give(b);
    expect(pool.idle).toBe(128 * KiB);
    pool.give(Buffer.alloc(10)); // from Node's shared pool: not ours
    pool.give(Buffer.allocUnsafeSlow(64 * KiB).subarray(1)); // a view that does not start the allocation
    expect(pool.idle).toBe(128 * KiB);
    const huge = pool.take(32 * MiB); // past the largest class: a plain allocation
    expect(huge.buffer.byteLength).toBe(32 * MiB);
  });

  it('drops the longest idle buffers first when the budget is full, so the sizes in use stay pooled', () => {
    const pool = new BodyPool(8 * MiB + 256 * KiB);
    const old = pool.take(3 * MiB);
    pool.give(old);
    const a = pool.take(4 * MiB + 12);
    const b = pool.take(4 * MiB + 12);
    pool.give(a);
    pool.give(b); // over budget with the 3 MiB one: it goes
    expect(pool.idle).toBe(a.buffer.byteLength + b.buffer.byteLength);
    expect(pool.take(4 * MiB + 12).buffer).toBe(b.buffer);
    expect(pool.take(4 * MiB + 12).buffer).toBe(a.buffer);
    expect(pool.take(3 * MiB).buffer).not.toBe(old.buffer);
    pool.give(a);
    pool.give(a); // given twice by mistake: kept once
    expect(pool.idle).toBe(a.buffer.byteLength);
  });
});
