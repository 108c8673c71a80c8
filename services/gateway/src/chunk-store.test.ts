import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FetchClient, Svcm, connectBus, decodeJson, encodeJson, subjects, type FetchRequest, type Service } from '@larder/bus';
import { StatusError, statusOf } from '@larder/errors';
import { ChunkIndex, createRedis } from '@larder/redis';
import { Volume } from '@larder/volume';
import { afterAll, describe, expect, it } from 'vitest';
import { ChunkEvictedError, ChunkStore } from './chunk-store.js';
import { TouchBatcher } from './touch-batcher.js';

const ns = `gwstore${randomBytes(4).toString('hex')}`;
const dir = mkdtempSync(path.join(tmpdir(), 'larder-chunk-store-'));
const nc = await connectBus({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', name: 'chunk-store-test' });
const redis = createRedis({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
const index = new ChunkIndex(redis, ns);
const volume = new Volume(dir, ns);
const touches = new TouchBatcher(index, 60_000);
const store = new ChunkStore({ volume, fetcher: new FetchClient(nc, () => ({ namespace: ns, timeoutMs: 2000 })), touches });

/** A stand-in chunk-fetcher on the real bus: writes the chunk (or, for `evicted`, answers without it) or fails with `fail`. */
const requests: FetchRequest[] = [];
const evicted = new Set<string>();
/** Answer without the file this many times, then write it. */
const evictedTimes = new Map<string, number>();
const fail = new Map<string, number>();
const service: Service = await new Svcm(nc).add({ name: subjects(ns).fetcherService, version: '0.0.1', queue: subjects(ns).fetcherService });
service.addEndpoint('fetch', {
  subject: subjects(ns).fetch,
  handler: (_err, msg) => {
    const req = decodeJson<FetchRequest>(msg.data);
    requests.push(req);
    const status = fail.get(req.digest);
    if (status) return void msg.respondError(status, `refused ${req.digest}`);
    const bytes = randomBytes(1000);
    const times = evictedTimes.get(req.digest) ?? 0;
    if (times > 0) evictedTimes.set(req.digest, times - 1);
    const write = evicted.has(req.digest) || times > 0 ? Promise.resolve() : volume.writeChunk(req.store, req.digest, bytes);
    // Answer a little later, so that concurrent opens overlap.
    void write.then(() => setTimeout(() => msg.respond(encodeJson({ source: 's3', size: bytes.length })), 50));
  },
});

afterAll(async () => {
  await service.stop();
  await touches.stop();
  await index.clear();
  await redis.quit();
  await nc.close();
  rmSync(dir, { recursive: true, force: true });
});

const digest = () => randomBytes(32).toString('hex');

describe('ChunkStore', () => {
  it('opens a miss once it is fetched (one request for concurrent opens), then a hit from the volume', async () => {
    const d = digest();
    const opened = await Promise.all(Array.from({ length: 8 }, () => store.open('demo', d)));
    expect(requests.filter((r) => r.digest === d)).toHaveLength(1);
    for (const o of opened) {
      expect(o.hit).toBe(false);
      expect(fstatSync(o.fd).size).toBe(1000);
      closeSync(o.fd);
    }
    const again = await store.open('demo', d, 'low');
    expect(again.hit).toBe(true);
    closeSync(again.fd);
    expect(requests.filter((r) => r.digest === d)).toHaveLength(1);
  });

  it('asks at low priority when told to', async () => {
    const d = digest();
    closeSync((await store.open('demo', d, 'low')).fd);
    expect(requests.find((r) => r.digest === d)?.priority).toBe('low');
  });

  it('answers a chunk evicted between its fetch and the open with one clear 503, after one request', async () => {
    const d = digest();
    evicted.add(d);
    const err = await store.open('demo', d).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StatusError);
    expect(statusOf(err)).toBe(503);
    expect((err as Error).message).toMatch(/evicted before it could be served/);
    expect(requests.filter((r) => r.digest === d)).toHaveLength(1);
  });

  it('fetches a chunk evicted before its open again for image reads (openRefetching), a bounded number of times', async () => {
    const once = digest();
    // The first fetch answers without the file; the second writes it.
    evictedTimes.set(once, 1);
    const opened = await store.openRefetching('demo', once);
    expect(fstatSync(opened.fd).size).toBe(1000);
    closeSync(opened.fd);
    expect(requests.filter((r) => r.digest === once)).toHaveLength(2);
    const always = digest();
    evicted.add(always);
    const err = await store.openRefetching('demo', always).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChunkEvictedError);
    expect(statusOf(err)).toBe(503);
    expect(requests.filter((r) => r.digest === always)).toHaveLength(3);
    // Any other failure is not retried.
    const refused = digest();
    fail.set(refused, 404);
    expect(statusOf(await store.openRefetching('demo', refused).catch((e: unknown) => e))).toBe(404);
    expect(requests.filter((r) => r.digest === refused)).toHaveLength(1);
  });

  it("passes a fetcher's status on", async () => {
    const d = digest();
    fail.set(d, 404);
    const err = await store.open('demo', d).catch((e: unknown) => e);
    expect(statusOf(err)).toBe(404);
    expect((err as Error).message).toBe(`refused ${d}`);
  });
});
