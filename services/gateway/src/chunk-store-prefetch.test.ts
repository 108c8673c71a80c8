import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FetchClient, Svcm, connectBus, decodeJson, encodeJson, subjects, type FetchRequest, type Service } from '@larder/bus';
import { parseConfig } from '@larder/config';
import { ChunkIndex, createRedis } from '@larder/redis';
import { Volume } from '@larder/volume';
import { afterAll, describe, expect, it } from 'vitest';
import { ChunkStore } from './chunk-store.js';
import { TouchBatcher } from './touch-batcher.js';

const ns = `gwprefetch${randomBytes(4).toString('hex')}`;
const dir = mkdtempSync(path.join(tmpdir(), 'larder-chunk-prefetch-'));
const nc = await connectBus({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', name: 'chunk-prefetch-test' });
const redis = createRedis({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
const index = new ChunkIndex(redis, ns);
const volume = new Volume(dir, ns);
const touches = new TouchBatcher(index, 60_000);
const store = new ChunkStore({ volume, fetcher: new FetchClient(nc, () => ({ namespace: ns, timeoutMs: 2000 })), touches });

/** A stand-in chunk-fetcher on the real bus: writes the chunk, answers a little later, and records every request. */
const requests: FetchRequest[] = [];
const service: Service = await new Svcm(nc).add({ name: subjects(ns).fetcherService, version: '0.0.1', queue: subjects(ns).fetcherService });
service.addEndpoint('fetch', {
  subject: subjects(ns).fetch,
  handler: (_err, msg) => {
    const req = decodeJson<FetchRequest>(msg.data);
    requests.push(req);
    const bytes = randomBytes(1000);
    const write = volume.writeChunk(req.store, req.digest, bytes);
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

describe('ChunkStore.prefetch (readahead)', () => {
  it('fetches a missing chunk at low priority, through the same single flight as open; nothing for a chunk on the volume', async () => {
    const d = digest();
    const ahead = store.prefetch('demo', d);
    expect(ahead).toBeInstanceOf(Promise);
    await ahead;
    expect(requests.filter((r) => r.digest === d)).toEqual([{ store: 'demo', digest: d, priority: 'low' }]);
    expect(store.prefetch('demo', d)).toBeUndefined();
    const o = await store.open('demo', d);
    expect(o.hit).toBe(true);
    closeSync(o.fd);
    expect(requests.filter((r) => r.digest === d)).toHaveLength(1);
  });

  it('a client that needs a chunk being fetched ahead asks at normal priority too (concurrent clients once); a second prefetch joins', async () => {
    const d = digest();
    const ahead = store.prefetch('demo', d);
    expect(store.prefetch('demo', d)).toBeInstanceOf(Promise);
    const opened = await Promise.all([store.open('demo', d), store.open('demo', d)]);
    await ahead;
    for (const o of opened) closeSync(o.fd);
    const sent = requests.filter((r) => r.digest === d).map((r) => r.priority ?? 'normal');
    expect(sent.sort()).toEqual(['low', 'normal']);
  });

  it('a chunk fetched ahead is proven by its fetch: the client that then opens it does not hash it again', async () => {
    const config = parseConfig({ datastores: { demo: { layout: 'casync', bucket: 'bkt' } } });
    const verifying = new ChunkStore({ volume, fetcher: new FetchClient(nc, () => ({ namespace: ns, timeoutMs: 2000 })), touches, verify: { config: () => config, index } });
    const d = digest();
    await verifying.prefetch('demo', d);
    // The stand-in fetcher writes random bytes: hashed now, the file would fail, be quarantined and fetched again.
    const o = await verifying.open('demo', d);
    closeSync(o.fd);
    expect(o.hit).toBe(true);
    expect(o.data).toBeUndefined();
    expect(requests.filter((r) => r.digest === d)).toHaveLength(1);
  });
});
