import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExposition, valueOf } from './metrics-text.js';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ config: { capacity: '300KiB' } });
});
afterAll(() => stack?.cleanup());

async function samples() {
  const res = await fetchBytes(`${stack.gateway()}/metrics`, { signal: AbortSignal.timeout(5000) });
  return parseExposition(res.body.toString()).samples;
}

describe('eviction metrics', () => {
  it('count evicted chunks and bytes, and the gauges show used bytes within capacity', async () => {
    const before = await samples();
    const chunks = [];
    for (let i = 0; i < 10; i++) chunks.push(await stack.putChunk('demo', randomBytes(64 * 1024)));
    for (const c of chunks) expect((await fetchBytes(`${stack.gateway()}/v1/stores/demo/chunks/${c.digest}`)).status).toBe(200);
    await stack.cacheIndex.evict();
    const after = await samples();
    const totals = await stack.deps.index.totals();
    const evicted = valueOf(after, 'larder_cache_evictions_total') - valueOf(before, 'larder_cache_evictions_total');
    // Every chunk fetched is either still cached or was evicted.
    expect(evicted).toBe(10 - totals.chunkCount);
    expect(evicted).toBeGreaterThan(0);
    const evictedBytes = valueOf(after, 'larder_cache_evicted_bytes_total') - valueOf(before, 'larder_cache_evicted_bytes_total');
    expect(evictedBytes).toBe(chunks.reduce((n, c) => n + c.bytes.length, 0) - totals.usedBytes);
    expect(valueOf(after, 'larder_cache_capacity_bytes')).toBe(300 * 1024);
    expect(valueOf(after, 'larder_cache_used_bytes')).toBe(totals.usedBytes);
    expect(valueOf(after, 'larder_cache_chunks')).toBe(totals.chunkCount);
  }, 60_000);
});
