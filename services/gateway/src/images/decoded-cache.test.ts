import { describe, expect, it } from 'vitest';
import { DecodedChunkCache } from './decoded-cache.js';

const buf = (n: number) => Buffer.alloc(n, 1);

describe('DecodedChunkCache', () => {
  it('loads a key once for concurrent readers', async () => {
    const c = new DecodedChunkCache(1000);
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 10));
      return buf(100);
    };
    await Promise.all(Array.from({ length: 10 }, () => c.get('a', 100, load)));
    await c.get('a', 100, load);
    expect(loads).toBe(1);
    expect(c.hits).toBe(1);
  });

  it('keeps held plus loading bytes within the budget, least recently used out first', async () => {
    const c = new DecodedChunkCache(300);
    for (const k of ['a', 'b', 'c']) await c.get(k, 100, async () => buf(100));
    await c.get('a', 100, async () => buf(100)); // a is now most recent
    await c.get('d', 100, async () => buf(100));
    expect(c.usedBytes).toBeLessThanOrEqual(300);
    expect(c.has('b')).toBe(false);
    expect(c.has('a')).toBe(true);
  });

  it('refuses prefetch past half the budget, and a failed load is not cached', async () => {
    const c = new DecodedChunkCache(400);
    let release: () => void = () => {};
    const slow = () => new Promise<Buffer>((r) => (release = () => r(buf(100))));
    expect(c.tryPrefetch('x', 200, slow)).toBe(true);
    expect(c.tryPrefetch('y', 100, async () => buf(100))).toBe(false);
    release();
    await expect(c.get('z', 10, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(c.has('z')).toBe(false);
  });
});
