import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ config: { capacity: '300KiB' } });
});
afterAll(() => stack?.cleanup());

async function volumeKeys(): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for await (const c of stack.deps.volume.listChunks()) m.set(c.key, c.size);
  return m;
}

async function indexKeys(): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for await (const batch of stack.deps.index.scan()) for (const e of batch) m.set(e.key, e.size);
  return m;
}

describe('eviction under a small capacity', () => {
  it('keeps used bytes within capacity, deletes evicted files, and index and volume agree', async () => {
    const chunks = [];
    for (let i = 0; i < 12; i++) chunks.push(await stack.putChunk('demo', randomBytes(64 * 1024)));
    for (const c of chunks) {
      const res = await fetchBytes(`${stack.gateway()}/v1/stores/demo/chunks/${c.digest}`);
      expect(res.status).toBe(200);
      expect(res.body.equals(c.bytes)).toBe(true);
    }
    const report = await stack.cacheIndex.evict();
    expect(report.usedBytes).toBeLessThanOrEqual(300 * 1024);
    expect(report.effectiveCapacityBytes).toBe(300 * 1024);
    const totals = await stack.deps.index.totals();
    expect(totals.usedBytes).toBeLessThanOrEqual(300 * 1024);
    expect(totals.chunkCount).toBeLessThan(12);
    const [onDisk, inIndex] = [await volumeKeys(), await indexKeys()];
    expect([...onDisk.entries()].sort()).toEqual([...inIndex.entries()].sort());
    expect([...onDisk.values()].reduce((a, b) => a + b, 0)).toBe(totals.usedBytes);
    // The most recently fetched chunk survives; the first one is gone.
    expect(onDisk.has(`demo/${chunks[11]?.digest}`)).toBe(true);
    expect(onDisk.has(`demo/${chunks[0]?.digest}`)).toBe(false);
    expect((await stack.deps.index.stats()).evictions).toBeGreaterThan(0);
  });

  it('reconciles an index that lost entries and a volume that lost files', async () => {
    const keys = [...(await indexKeys()).keys()];
    await stack.deps.index.remove(keys.slice(0, 1));
    const [store, digest] = (keys[1] as string).split('/') as [string, string];
    await stack.deps.volume.removeChunk(store, digest);
    const r = await stack.cacheIndex.reconcile();
    expect(r.filesAdmitted).toBe(1);
    expect(r.entriesRemoved).toBe(1);
    expect([...(await volumeKeys()).entries()].sort()).toEqual([...(await indexKeys()).entries()].sort());
  });
});
