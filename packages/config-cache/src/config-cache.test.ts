import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectBus, encodeJson, subjects, type NatsConnection, type Subscription } from '@larder/bus';
import { parseConfig, resolvePaths } from '@larder/config';
import { ConfigCache } from './config-cache.js';
import type { ConfigSnapshot } from './types.js';

// A stand-in for the config-service on real NATS, so that requests can be counted and answers held back.
let ns: string;
let conns: NatsConnection[];
let responder: Subscription | undefined;
let requests = 0;
let generation = 1;
let delayMs = 0;
const snapshot = (): ConfigSnapshot => ({
  generation,
  digest: `d${generation}`,
  file: '/etc/larder/larder.yaml',
  baseDir: '/etc/larder',
  text: '',
  raw: { capacity: `${generation}GiB`, datastores: { demo: { layout: 'pbs', bucket: 'demo-bucket' } } },
  updatedAt: new Date().toISOString(),
});
const connect = async () => {
  const nc = await connectBus({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', name: `${ns}-test` });
  conns.push(nc);
  return nc;
};
const serve = async () => {
  const nc = await connect();
  responder = nc.subscribe(subjects(ns).configGet, {
    callback: (_err, msg) => {
      requests++;
      const req = JSON.parse(Buffer.from(msg.data).toString() || '{}') as { known?: number; digest?: string };
      const body = req.known === generation && req.digest === `d${generation}` ? { generation, digest: `d${generation}`, unchanged: true } : snapshot();
      setTimeout(() => msg.respond(encodeJson(body)), delayMs);
    },
  });
  await nc.flush();
  return nc;
};

beforeEach(() => {
  ns = `k${randomBytes(5).toString('hex')}`;
  conns = [];
  requests = 0;
  generation = 1;
  delayMs = 0;
});
afterEach(async () => {
  responder?.unsubscribe();
  for (const nc of conns) await nc.close();
});

describe('ConfigCache', () => {
  it('coalesces a burst of broadcasts into one fetch and one change', async () => {
    const svc = await serve();
    const cache = await ConfigCache.start({ nc: await connect(), namespace: ns, ttlMs: 60_000, env: false });
    expect(cache.generation).toBe(1);
    expect(cache.datastore('demo')?.bucket).toBe('demo-bucket');
    const changes: number[] = [];
    cache.onChange((e) => changes.push(e.generation));
    requests = 0;
    delayMs = 100;
    generation = 2;
    for (let i = 0; i < 20; i++) svc.publish(subjects(ns).configGeneration, encodeJson({ generation: 2, digest: 'd2' }));
    await svc.flush();
    for (let i = 0; i < 100 && cache.generation !== 2; i++) await new Promise((r) => setTimeout(r, 20));
    await cache.refresh();
    expect(cache.generation).toBe(2);
    expect(cache.current().capacity).toBe(2 * 2 ** 30);
    expect(changes).toEqual([2]);
    // The first broadcast starts a fetch; the other 19 arrive during it and make at most one more.
    expect(requests).toBeLessThanOrEqual(3);
    await cache.stop();
  });

  it('polls when no broadcast comes within the TTL', async () => {
    await serve();
    const cache = await ConfigCache.start({ nc: await connect(), namespace: ns, ttlMs: 100, env: false });
    generation = 5; // changed without a broadcast
    for (let i = 0; i < 200 && cache.generation !== 5; i++) await new Promise((r) => setTimeout(r, 20));
    expect(cache.generation).toBe(5);
    await cache.stop();
  });

  it('starts on the initial config when the config-service is down, says so, and catches up', async () => {
    const initial = parseConfig({ capacity: '7GiB' });
    const cache = await ConfigCache.start({ nc: await connect(), namespace: ns, ttlMs: 100, env: false, initial });
    expect(cache.current()).toBe(initial);
    expect(cache.status()).toMatchObject({ generation: 0, configServiceOnline: false, restartRequired: [] });
    await serve();
    for (let i = 0; i < 200 && cache.generation !== 1; i++) await new Promise((r) => setTimeout(r, 20));
    expect(cache.status()).toMatchObject({ generation: 1, configServiceOnline: true });
    expect(cache.current().capacity).toBe(2 ** 30);
    await cache.stop();
  });

  it('applies env overrides on top of the served file and flags what needs a restart', async () => {
    await serve();
    const initial = resolvePaths(
      parseConfig({ redis: { url: 'redis://elsewhere:6379' }, datastores: { demo: { layout: 'pbs', bucket: 'demo-bucket' } }, capacity: '1GiB' }),
      '/etc/larder',
    );
    const cache = await ConfigCache.start({ nc: await connect(), namespace: ns, ttlMs: 60_000, env: { LARDER_REDIS_URL: 'redis://elsewhere:6379' }, initial });
    expect(cache.current().redis.url).toBe('redis://elsewhere:6379');
    expect(cache.status().restartRequired).toEqual([]);
    const noEnv = await ConfigCache.start({ nc: await connect(), namespace: ns, ttlMs: 60_000, env: {}, initial });
    expect(noEnv.status().restartRequired).toEqual(['redis.url']);
    await cache.stop();
    await noEnv.stop();
  });

  it('keeps the last good config when a served generation does not validate', async () => {
    await serve();
    const cache = await ConfigCache.start({ nc: await connect(), namespace: ns, ttlMs: 60_000, env: { LARDER_GATEWAY_LISTEN: 'not-an-address' }, initial: parseConfig({}) });
    expect(cache.generation).toBe(0);
    expect(cache.status().lastError).toMatch(/gateway\.listen/);
    expect(cache.status().configServiceOnline).toBe(true);
    await cache.stop();
  });
});
