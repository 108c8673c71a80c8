import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '@larder/redis';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';
import { startOwnRedis, type OwnRedis } from '@larder/redis/testing';

// These tests flush, stop and restart Redis: their own redis-server on a free port, never the shared one.
let own: OwnRedis;
let stack: TestStack;
const CAPACITY = 512 * 1024;
beforeAll(async () => {
  own = await startOwnRedis();
  stack = await startTestStack({
    config: { redis: { url: own.url }, capacity: CAPACITY, index: { evictInterval: '200ms', tempSweepInterval: '200ms' } },
  });
});
afterAll(async () => {
  await own?.start().catch(() => {}); // cleanup clears the stack's keys
  await stack?.cleanup();
  await own?.stop();
});

type Status = Record<string, unknown> & {
  usedBytes: number | null;
  chunkCount: number | null;
  redis: { online: boolean; error?: string };
  index: { state: string; lastRebuild?: { reason: string } } | null;
};

async function status(): Promise<Status> {
  const res = await fetchBytes(`${stack.gateway()}/v1/status`);
  expect(res.status).toBe(200);
  return JSON.parse(res.body.toString()) as Status;
}

/** Poll `probe` until it returns a truthy value; fail after `ms`. */
async function until<T>(what: string, probe: () => Promise<T>, ms = 15_000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await probe().catch(() => undefined);
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

async function onVolume(): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for await (const c of stack.deps.volume.listChunks()) m.set(c.key, c.size);
  return m;
}

async function inIndex(): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for await (const batch of stack.deps.index.scan()) for (const e of batch) m.set(e.key, e.size);
  return m;
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

async function get(digest: string) {
  return fetchBytes(`${stack.gateway()}/v1/stores/demo/chunks/${digest}`);
}

describe('Redis loses the index', () => {
  it('after FLUSHALL the index is rebuilt from the volume within seconds and eviction works on the right numbers', async () => {
    const first = [];
    for (let i = 0; i < 6; i++) first.push(await stack.putChunk('demo', randomBytes(64 * 1024)));
    for (const c of first) expect((await get(c.digest)).status).toBe(200);
    await until('index ready', async () => stack.cacheIndex.indexHealth().state === 'ready');
    const before = await status();
    expect(before.chunkCount).toBe(6);

    const admin = createRedis({ url: own.url });
    try {
      await admin.flushall();
    } finally {
      admin.disconnect();
    }
    const volume = await onVolume();
    const rebuilt = await until('counts right again', async () => {
      const s = await status();
      return s.chunkCount === volume.size && s.usedBytes === sum(volume) && s.index?.state === 'ready' ? s : undefined;
    });
    expect(rebuilt.index?.lastRebuild?.reason).toMatch(/epoch marker vanished/);
    expect([...(await inIndex()).entries()].sort()).toEqual([...volume.entries()].sort());

    // Past capacity now: eviction removes old chunks (recency from file times), keeps the new ones, index and volume agree.
    const next = [];
    for (let i = 0; i < 4; i++) next.push(await stack.putChunk('demo', randomBytes(64 * 1024)));
    for (const c of next) expect((await get(c.digest)).status).toBe(200);
    const report = await stack.cacheIndex.evict();
    expect(report.usedBytes).toBeLessThanOrEqual(CAPACITY);
    const [vol, idx] = [await onVolume(), await inIndex()];
    expect([...vol.entries()].sort()).toEqual([...idx.entries()].sort());
    expect(sum(vol)).toBe((await stack.deps.index.totals()).usedBytes);
    expect(sum(vol)).toBeLessThanOrEqual(CAPACITY);
    for (const c of next) expect(vol.has(`demo/${c.digest}`)).toBe(true);
    expect(first.filter((c) => vol.has(`demo/${c.digest}`)).length).toBeLessThan(first.length);
  });
});

describe('Redis stopped and restarted', () => {
  it('serves hits, answers misses 503 and /v1/status 200 while down, and recovers by itself', async () => {
    const cached = await stack.putChunk('demo', randomBytes(32 * 1024));
    expect((await get(cached.digest)).status).toBe(200);
    const uncached = await stack.putChunk('demo', randomBytes(32 * 1024));

    await own.stop();
    const hit = await get(cached.digest);
    expect(hit.status).toBe(200);
    expect(hit.headers.get('x-larder-cache')).toBe('hit');
    expect(hit.body.equals(cached.bytes)).toBe(true);

    const miss = await get(uncached.digest);
    expect(miss.status).toBe(503);
    const body = JSON.parse(miss.body.toString()) as { error: string; message: string };
    expect(body.error).toBe('unavailable');
    expect(body.message).toMatch(/cache index \(Redis\) unavailable/);

    const down = await until('status saying Redis is down', async () => {
      const s = await status();
      return s.index?.state === 'redis-unavailable' ? s : undefined;
    });
    expect(down.redis.online).toBe(false);
    expect(down.redis.error).toMatch(/cache index \(Redis\) unavailable/);
    expect(down.usedBytes).toBeNull();
    expect(down.fetchersOnline).toBe(1);
    expect(down.volume).toMatchObject({ path: stack.deps.volume.dir });
    // A hit while Redis is down still counts once it is back (the gateway keeps its counters).
    expect((await get(cached.digest)).status).toBe(200);

    await own.start(); // empty, with a new run_id
    const volume = await onVolume();
    await until('index rebuilt after the restart', async () => {
      const s = await status();
      return s.redis.online && s.index?.state === 'ready' && s.chunkCount === volume.size && s.usedBytes === sum(volume);
    });
    const again = await get(uncached.digest);
    expect(again.status).toBe(200);
    expect(again.body.equals(uncached.bytes)).toBe(true);
    expect(await stack.deps.index.has(`demo/${uncached.digest}`)).toBe(true);
    expect(((await status()).hits as number) ?? 0).toBeGreaterThanOrEqual(2);
  });
});

describe('temp files of dead writers', () => {
  it('are swept within the short sweep interval once 30 s old; a live writer keeps its own', async () => {
    const digest = 'ab'.repeat(32);
    const dir = path.dirname(stack.deps.volume.chunkPath('demo', digest));
    await mkdir(dir, { recursive: true });
    const old = new Date(Date.now() - 40_000);
    const dead = path.join(dir, `.tmp-${digest}.999999999.0001`);
    const live = path.join(dir, `.tmp-${digest}.${process.pid}.0002`);
    const fresh = path.join(dir, `.tmp-${digest}.999999999.0003`);
    for (const f of [dead, live, fresh]) await writeFile(f, 'partial');
    for (const f of [dead, live]) await utimes(f, old, old);
    await until('the dead writer’s old temp file swept', async () => !(await readdir(dir)).includes(path.basename(dead)), 10_000);
    expect((await readdir(dir)).sort()).toEqual(expect.arrayContaining([path.basename(live), path.basename(fresh)]));
  });
});

describe('Redis restarted with its data', () => {
  it('keeps the index (marker present) and reconciles it with the volume when the run_id changes', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'larder-redis-aof-'));
    const persistent = await startOwnRedis({ persistDir: dir });
    const other = await startTestStack({ fetchers: 1, config: { redis: { url: persistent.url } } });
    try {
      const chunks = [];
      for (let i = 0; i < 3; i++) chunks.push(await other.putChunk('demo', randomBytes(16 * 1024)));
      for (const c of chunks) expect((await fetchBytes(`${other.gateway()}/v1/stores/demo/chunks/${c.digest}`)).status).toBe(200);
      await until('index ready', async () => other.cacheIndex.indexHealth().state === 'ready');
      const builtAtMs = other.cacheIndex.indexHealth().builtAtMs;
      await persistent.stop();
      // While Redis is down a file goes away behind the index's back.
      await other.deps.volume.removeChunk('demo', chunks[0]!.digest);
      await persistent.start();
      await until('index reconciled after the restart', async () => (await other.deps.index.totals()).chunkCount === 2 && other.cacheIndex.indexHealth().state === 'ready');
      expect(other.cacheIndex.indexHealth().builtAtMs).toBe(builtAtMs); // not rebuilt: the persisted index was kept
      expect(await other.deps.index.has(`demo/${chunks[1]!.digest}`)).toBe(true);
    } finally {
      await other.cleanup();
      await persistent.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
