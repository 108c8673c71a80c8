import { describe, expect, it } from 'vitest';
import { DecodedChunkCache } from './decoded-cache.js';

const buf = (n: number) => Buffer.alloc(n, 1);

/** Read keys k0..k(n-1) in order, `passes` times; hits per pass. */
async function scan(c: DecodedChunkCache, n: number, passes: number, prefix = 'k'): Promise<number[]> {
  const hits: number[] = [];
  for (let p = 0; p < passes; p++) {
    const before = c.hits;
    for (let i = 0; i < n; i++) await c.get(`${prefix}${i}`, 100, async () => buf(100));
    hits.push(c.hits - before);
  }
  return hits;
}

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

  it('keeps held plus loading bytes within the budget', async () => {
    const c = new DecodedChunkCache(1000);
    await scan(c, 50, 3);
    expect(c.usedBytes).toBeLessThanOrEqual(1000);
    const inFlight = c.get('x', 100, () => new Promise((r) => setTimeout(() => r(buf(100)), 5)));
    expect(c.usedBytes).toBeLessThanOrEqual(1000);
    await inFlight;
    expect(c.usedBytes).toBeLessThanOrEqual(1000);
  });

  it('keeps part of a sequential read larger than the budget across passes (plain LRU would hit nothing)', async () => {
    const c = new DecodedChunkCache(1000); // 10 chunks of 100 bytes; the image has 30
    const hits = await scan(c, 30, 4);
    expect(hits[0]).toBe(0);
    // Main (three quarters of the budget) keeps 7 chunks of the image, pass after pass.
    for (const h of hits.slice(1)) expect(h).toBeGreaterThanOrEqual(7);
  });

  it('lets a chunk read more often than the held ones take their place', async () => {
    const c = new DecodedChunkCache(1000);
    await scan(c, 30, 2, 'old');
    // A new hot set read again and again takes over main.
    const hits = await scan(c, 5, 6, 'hot');
    expect(hits.at(-1)).toBe(5);
  });

  it('serves a prefetched chunk from the window to the read that follows', async () => {
    const c = new DecodedChunkCache(1000);
    await scan(c, 30, 2); // main full of chunks read twice
    let loads = 0;
    expect(c.tryPrefetch('next', 100, async () => (loads++, buf(100)))).toBe(true);
    await new Promise((r) => setImmediate(r));
    await c.get('next', 100, async () => (loads++, buf(100)));
    expect(loads).toBe(1);
  });

  it("refuses prefetch past the window's share of the budget, and a failed load is not cached", async () => {
    const c = new DecodedChunkCache(800);
    let release: () => void = () => {};
    const slow = () => new Promise<Buffer>((r) => (release = () => r(buf(150))));
    expect(c.tryPrefetch('x', 150, slow)).toBe(true);
    expect(c.tryPrefetch('y', 100, async () => buf(100))).toBe(false);
    release();
    await expect(c.get('z', 10, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(c.has('z')).toBe(false);
  });

  it('evicts down to a smaller budget', async () => {
    const c = new DecodedChunkCache(1000);
    await scan(c, 30, 2);
    c.setBudget(300);
    expect(c.usedBytes).toBeLessThanOrEqual(300);
  });

  it('gives back the memory of a chunk deleted (kept elsewhere)', async () => {
    const c = new DecodedChunkCache(1000);
    await c.get('a', 100, async () => buf(100));
    await scan(c, 3, 1, 'b');
    const used = c.usedBytes;
    c.delete('a');
    expect(c.has('a')).toBe(false);
    expect(c.usedBytes).toBe(used - 100);
  });
});
