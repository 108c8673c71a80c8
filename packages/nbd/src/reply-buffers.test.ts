import { describe, expect, it } from 'vitest';
import { ReplyBufferPool } from './reply-buffers.js';

describe('ReplyBufferPool', () => {
  it('hands a given-back buffer out again for the same size class', () => {
    const pool = new ReplyBufferPool(1024 * 1024);
    const a = pool.take(256 * 1024 + 28);
    expect(a.length).toBe(256 * 1024 + 4096); // rounded up to 4 KiB
    pool.give(a);
    expect(pool.heldBytes).toBe(a.length);
    const b = pool.take(256 * 1024 + 16); // same class
    expect(b).toBe(a);
    expect(pool.reused).toBe(1);
    expect(pool.heldBytes).toBe(0);
    expect(pool.take(256 * 1024 + 16)).not.toBe(a); // in use: a fresh one
  });

  it('does not pool small or huge buffers, nor buffers it did not make', () => {
    const pool = new ReplyBufferPool(64 * 1024 * 1024);
    const small = pool.take(512);
    expect(small.length).toBe(512);
    pool.give(small);
    pool.give(Buffer.alloc(65536 * 2).subarray(0, 65536)); // a view, not a whole allocation
    pool.give(pool.take(16 * 1024 * 1024));
    expect(pool.heldBytes).toBe(0);
  });

  it('keeps free bytes within its bound, preferring the sizes given back last', () => {
    const pool = new ReplyBufferPool(3 * 65536);
    const old = [pool.take(65536), pool.take(65536), pool.take(65536)];
    for (const b of old) pool.give(b);
    expect(pool.heldBytes).toBe(3 * 65536);
    const big = pool.take(2 * 65536);
    pool.give(big); // evicts two of the older class to make room
    expect(pool.heldBytes).toBe(3 * 65536);
    expect(pool.take(2 * 65536)).toBe(big);
    const extra = pool.take(3 * 65536 + 4096);
    pool.give(extra); // larger than the room even after evicting everything else: dropped
    expect(pool.heldBytes).toBeLessThanOrEqual(3 * 65536);
  });
});
