import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { RequestBudgets, createRedis } from '@larder/redis';
import { useRequestBudgets } from '@larder/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3EndpointEnv, type S3EndpointEnv } from './test-s3-endpoint.js';

let env: S3EndpointEnv;
const redis = createRedis({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
let budgets: RequestBudgets;
let uninstall: () => void;

beforeAll(async () => {
  env = await startS3EndpointEnv({ budget: { getPerSecond: 50, throttleStatuses: [503] } });
  budgets = new RequestBudgets(redis, env.config.namespace, () => env.config.budgets);
  uninstall = useRequestBudgets(budgets);
});

afterAll(async () => {
  uninstall();
  budgets.close();
  const left = await redis.keys(`{${env.config.namespace}}:budget:*`);
  if (left.length > 0) await redis.unlink(...left);
  await redis.quit();
  await env.stop();
});

describe("the S3 endpoint's upstream requests within the datastore's budget", () => {
  it('a provider throttling GETs: the endpoint retries through the budget and every client GET succeeds', async () => {
    const c = env.client();
    const keys = Array.from({ length: 16 }, (_, i) => `docs/${i}.txt`);
    for (const key of keys) await c.send(new PutObjectCommand({ Bucket: 'demo', Key: key, Body: key }));
    env.s3.resetStats();
    env.s3.setFault({ rateLimit: { getsPerSecond: 4 } });
    try {
      const bodies = await Promise.all(keys.map(async (key) => (await c.send(new GetObjectCommand({ Bucket: 'demo', Key: key }))).Body!.transformToString()));
      expect(bodies).toEqual(keys);
    } finally {
      env.s3.setFault(undefined);
    }
    expect(env.s3.stats.throttled).toBeGreaterThan(0);
    const get = (await budgets.status())[0]!.classes.get;
    expect(get.throttled).toBe(env.s3.stats.throttled);
    expect(get.rate).toBeLessThan(50);
  });
});
