import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedS3, type EmbeddedS3 } from '@larder/s3-server';
import { RequestBudgets, createRedis, type BudgetSettings } from '@larder/redis';
import { useRequestBudgets } from './budget.js';
import { ensureBucket } from './buckets.js';
import { destroyS3Clients, s3ClientFor } from './client.js';
import { destroyObjectGetters, objectGetterFor } from './object-getter.js';
import { getObjectBytes, listObjects, putObjectBytes } from './objects.js';
import type { RetryPolicy } from './retry.js';

const POLICY: RetryPolicy = { timeoutMs: 30_000, retries: 2, backoffMs: 20 };
const ns = `test-s3budget-${process.pid}-${Date.now()}`;
const redis = createRedis({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
let s3: EmbeddedS3;
let dir: string;
const settings: Record<string, BudgetSettings> = {};
const budgets = new RequestBudgets(redis, ns, () => settings);
const uninstall = useRequestBudgets(budgets);
const conn = (budget?: string) => ({ endpoint: s3.endpoint, region: 'us-east-1', pathStyle: true, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', budget });
const bucket = `budget-${process.pid}`;
const keys = Array.from({ length: 60 }, (_, i) => `o/${i}`);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-budget-'));
  s3 = await startEmbeddedS3({ directory: dir });
  const client = s3ClientFor(conn());
  await ensureBucket(client, bucket);
  for (const k of keys) await putObjectBytes(client, bucket, k, Buffer.from(k));
});

afterEach(() => {
  s3.setFault(undefined);
  s3.resetStats();
});

afterAll(async () => {
  uninstall();
  budgets.close();
  destroyObjectGetters();
  destroyS3Clients();
  await s3.stop();
  await rm(dir, { recursive: true, force: true });
  const left = await redis.keys(`{${ns}}:budget:*`);
  if (left.length > 0) await redis.unlink(...left);
  await redis.quit();
});

const rateOf = async (name: string) => (await budgets.status()).find((b) => b.name === name)!.classes.get;

describe('S3 requests within a request budget', () => {
  it('a provider throttling below the budget: the rate is cut, every GET completes, retries go through the budget', async () => {
    settings.over = { getPerSecond: 40, throttleStatuses: [429, 503] };
    s3.setFault({ rateLimit: { getsPerSecond: 15 } });
    const getter = objectGetterFor(conn('over'));
    const bodies = await Promise.all(keys.map((k) => getter.get(bucket, k, POLICY)));
    expect(bodies.map((b) => b.toString())).toEqual(keys);
    expect(s3.stats.throttled).toBeGreaterThan(0);
    const state = await rateOf('over');
    expect(state.throttled).toBe(s3.stats.throttled);
    expect(state.rate).toBeLessThan(40);
    // Once cut, no second carried the whole burst again: the budget, not the retries, set the pace.
    expect(Math.max(...s3.stats.getsPerSecond.values())).toBeLessThanOrEqual(40);
  });

  it('a configured 403 is a throttle answer (retried), an unconfigured one is not', async () => {
    settings.forbidden = { getPerSecond: 100, throttleStatuses: [403] };
    settings.plain = { getPerSecond: 100, throttleStatuses: [503] };
    s3.setFault({ rateLimit: { getsPerSecond: 5, status: 403, code: 'AccessDenied' } });
    const client = s3ClientFor(conn('forbidden'));
    const bodies = await Promise.all(keys.slice(0, 12).map((k) => getObjectBytes(client, bucket, k, POLICY)));
    expect(bodies.map((b) => b.toString())).toEqual(keys.slice(0, 12));
    expect((await rateOf('forbidden')).throttled).toBeGreaterThan(0);
    const refused = await Promise.allSettled(keys.slice(0, 12).map((k) => getObjectBytes(s3ClientFor(conn('plain')), bucket, k, POLICY)));
    expect(refused.filter((r) => r.status === 'rejected').length).toBeGreaterThan(0);
    expect((await rateOf('plain')).throttled).toBe(0);
  });

  it('listings count as LIST, not GET', async () => {
    settings.lists = { getPerSecond: 1, listPerSecond: 100, throttleStatuses: [503] };
    const listed: string[] = [];
    for await (const o of listObjects(s3ClientFor(conn('lists')), bucket, 'o/')) listed.push(o.key);
    expect(listed).toHaveLength(keys.length);
    const status = (await budgets.status()).find((b) => b.name === 'lists')!;
    expect(status.classes.get.thisSecond).toBe(0);
  });
});
