import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { importRawImage } from '@larder/datastore';
import { createRedis } from '@larder/redis';
import { ensureBucket, s3ClientFor } from '@larder/s3';
import { startEmbeddedS3Process, type EmbeddedS3Process } from '@larder/s3-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';

// A provider that allows 30 GETs a second (and answers 503 SlowDown above), a budget of 30 GETs a second.
const LIMIT = 30;
const CHUNK = 64 * 1024;
let stack: TestStack;
let s3: EmbeddedS3Process;
let s3Dir: string;
let image: Buffer;

beforeAll(async () => {
  // The provider in a process of its own, as S3 is: it stamps each request's second on arrival, whatever the stack's
  // event loop is busy with.
  const bucket = `budget-${randomBytes(4).toString('hex')}`;
  s3Dir = path.join(os.tmpdir(), `larder-${bucket}`);
  s3 = await startEmbeddedS3Process({ directory: s3Dir, buckets: [bucket] });
  stack = await startTestStack({
    fetchers: 2,
    config: {
      budgets: { provider: { getPerSecond: LIMIT } },
      datastores: { demo: { layout: 'pbs', bucket, endpoint: s3.endpoint, budget: 'provider' } },
      // The restore takes several seconds at 30 GETs/s: deadlines long enough that waiting for the budget is no error.
      fetcher: { timeout: '30s', retries: 2, backoff: '50ms' },
      gateway: { listen: '127.0.0.1:0', nbdListen: '127.0.0.1:0', s3Listen: '127.0.0.1:0', touchFlushInterval: '100ms', requestTimeout: '60s' },
    },
  });
  // 160 chunks of 64 KiB, all different (zero chunks are never fetched).
  image = randomBytes(160 * CHUNK);
  const file = path.join(stack.dir, 'disk.raw');
  await writeFile(file, image);
  // Written outside the budget: the test is about reading.
  await ensureBucket(s3ClientFor(stack.ds('demo')), bucket);
  await importRawImage({ ds: { ...stack.ds('demo'), budget: undefined }, file, name: 'vm/1/disk.img', chunkSize: CHUNK });
}, 120_000);
afterAll(async () => {
  await stack?.cleanup();
  await s3?.stop();
  if (s3Dir) await rm(s3Dir, { recursive: true, force: true });
});

describe('a request budget that respects the provider', () => {
  it(`a cold restore under ${LIMIT} GETs/s: zero client errors, never more than ${LIMIT} GETs in a second at S3`, async () => {
    await s3.resetStats();
    // Seconds as the limiter defines them: a request counts in the second it was let go (and signed) in. By arrival, a
    // request let go at x.97 s may arrive after a busy event loop's delay in the next second: the network's jitter, not
    // the limiter's count.
    await s3.setFault({ rateLimit: { getsPerSecond: LIMIT, by: 'signed' } });
    try {
      const res = await fetchBytes(`${stack.gateway()}/v1/stores/demo/images/vm/1/disk.img.fidx`);
      expect(res.status).toBe(200);
      expect(res.body.equals(image)).toBe(true);
      // The server's own buckets: whole seconds of the signatures' X-Amz-Date, throttled requests included.
      const stats = await s3.stats();
      const perSecond = [...stats.getsPerSignedSecond.values()];
      if (process.env.BUDGET_DEBUG) console.log('GETs per second at S3, signed', perSecond, 'arrived', [...stats.getsPerSecond.values()]);
      expect(perSecond.reduce((a, b) => a + b, 0)).toBe(stats.objectGets);
      expect(stats.objectGets).toBeGreaterThanOrEqual(160);
      expect(Math.max(...perSecond)).toBeLessThanOrEqual(LIMIT);
      expect(stats.throttled).toBe(0);
    } finally {
      await s3.setFault(undefined);
    }
    const status = JSON.parse((await fetchBytes(`${stack.gateway()}/v1/status`)).body.toString()) as {
      s3Budgets: { name: string; classes: { get: { limit: number; rate: number; throttled: number } } }[];
    };
    const metrics = (await fetchBytes(`${stack.gateway()}/metrics`)).body.toString();
    expect(metrics).toMatch(new RegExp(`^larder_s3_budget_rate\\{[^}]*budget="provider",class="get"[^}]*\\} ${LIMIT}$`, 'm'));
    expect(metrics).toMatch(/^larder_s3_budget_wait_seconds_count\{[^}]*budget="provider",class="get"[^}]*\} \d+/m);
    expect(status.s3Budgets).toEqual([
      expect.objectContaining({ name: 'provider', classes: expect.objectContaining({ get: expect.objectContaining({ limit: LIMIT, rate: LIMIT }) }) }),
    ]);
  }, 120_000);

  it('the CLI imports within the budget too (background priority), sharing it with the node through Redis', async () => {
    const file = path.join(stack.dir, 'small.raw');
    await writeFile(file, randomBytes(8 * CHUNK));
    const imported = await stack.cli(['import', file, '--store', 'demo', '--name', 'vm/2/disk', '--chunk-size', '64KiB']);
    expect(imported.stderr).not.toMatch(/error/i);
    expect(imported.code).toBe(0);
    const redis = createRedis({ url: stack.config.redis.url });
    try {
      // Its HEADs counted as GETs, its uploads as PUTs, in the node's budget state.
      expect(await redis.hget(`{${stack.ns}}:budget:provider:put`, 'n')).not.toBeNull();
      expect(await redis.exists(`{${stack.ns}}:budget:provider:members`)).toBe(1);
    } finally {
      redis.disconnect();
    }
  }, 120_000);
});
