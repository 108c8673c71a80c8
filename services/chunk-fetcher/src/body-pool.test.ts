import { describe, expect, it } from 'vitest';
import { BodyPool } from './body-pool.js';

describe('BodyPool', () => {
  it('reuses the memory of a returned buffer for the next one of its size class', () => {
    const pool = new BodyPool(64 * 2 ** 20);
    const a = pool.take(4 * 2 ** 20 + 12);
    expect(a.byteLength).toBe(4 * 2 ** 20 + 12);
    expect(a.buffer.byteLength).toBe(8 * 2 ** 20);
    pool.give(a);
    expect(pool.idle).toBe(8 * 2 ** 20);
    const b = pool.take(5 * 2 ** 20);
    expect(b.buffer).toBe(a.buffer);
    expect(pool.idle).toBe(0);
    const small = pool.take(100);
    expect(small.buffer.byteLength).toBe(64 * 2 ** 10);
  });

  it('keeps at most its retain budget idle and ignores buffers it did not hand out', () => {
    const pool = new BodyPool(128 * 2 ** 10);
    const bufs = [pool.take(64 * 2 ** 10), pool.take(64 * 2 ** 10), pool.take(64 * 2 ** 10)];
    for (const b of bufs) pool.give(b);
    expect(pool.idle).toBe(128 * 2 ** 10);
    pool.give(Buffer.alloc(10)); // from Node's shared pool: not ours
    pool.give(Buffer.allocUnsafeSlow(64 * 2 ** 10).subarray(1)); // a view that does not start the allocation
    expect(pool.idle).toBe(128 * 2 ** 10);
    const huge = pool.take(32 * 2 ** 20); // past the largest class: a plain allocation
    expect(huge.buffer.byteLength).toBe(32 * 2 ** 20);
  });
});
