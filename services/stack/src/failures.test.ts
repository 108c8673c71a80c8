import { randomBytes } from 'node:crypto';
import { putObjectBytes, s3ClientFor } from '@larder/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ fetchers: 1 });
});
afterAll(() => stack?.cleanup());

const chunkUrl = (digest: string) => `${stack.gateway()}/v1/stores/demo/chunks/${digest}`;

describe('S3 faults', () => {
  it('retries transient S3 errors and then serves the chunk', async () => {
    const { digest, bytes } = await stack.putChunk('demo', randomBytes(3000));
    stack.s3?.setFault({ status: 503 });
    const pending = fetchBytes(chunkUrl(digest));
    setTimeout(() => stack.s3?.setFault(undefined), 60);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body.equals(bytes)).toBe(true);
  });

  it('answers 503 when S3 keeps failing, and caches nothing', async () => {
    const { digest } = await stack.putChunk('demo', randomBytes(3000));
    stack.s3?.setFault({ status: 500 });
    try {
      const res = await fetchBytes(chunkUrl(digest));
      expect(res.status).toBe(503);
      expect(JSON.parse(res.body.toString()).message).toMatch(/S3 unavailable/);
      expect(await stack.deps.volume.hasChunk('demo', digest)).toBe(false);
    } finally {
      stack.s3?.setFault(undefined);
    }
  });

  it('counts every S3 GET by outcome, failed ones too (each is billed), and shows them in /v1/status', async () => {
    const before = await stack.deps.index.stats();
    const delta = async (field: string) => ((await stack.deps.index.stats())[field] ?? 0) - (before[field] ?? 0);
    expect((await fetchBytes(chunkUrl('ef'.repeat(32)))).status).toBe(404);
    expect(await delta('s3.get.not_found')).toBe(1);
    const { digest } = await stack.putChunk('demo', randomBytes(3000));
    stack.s3?.setFault({ status: 500 });
    try {
      expect((await fetchBytes(chunkUrl(digest))).status).toBe(503);
    } finally {
      stack.s3?.setFault(undefined);
    }
    expect(await delta('s3.get.error')).toBe(3); // the first GET and fetcher.retries (2) retries
    expect((await fetchBytes(chunkUrl(digest))).status).toBe(200);
    expect(await delta('s3.get.ok')).toBe(1);
    expect(await delta('s3Gets')).toBe(5);
    const status = JSON.parse((await fetchBytes(`${stack.gateway()}/v1/status`)).body.toString());
    expect(status.s3Requests.get.not_found).toBeGreaterThanOrEqual(1);
    expect(status.s3Requests.get.error).toBeGreaterThanOrEqual(3);
  });

  it('keeps the status of a failed fetch when Redis cannot count it: a corrupt object is a 502, a missing one a 404, not a 500', async () => {
    const { digest, key } = await stack.putChunk('demo', randomBytes(4096));
    const other = await stack.putChunk('demo', randomBytes(4096));
    const ds = stack.ds('demo');
    await putObjectBytes(s3ClientFor(ds), ds.bucket, key.slice(ds.bucket.length + 1), other.bytes);
    // A stats key of the wrong type: every HINCRBY on it fails in real Redis (WRONGTYPE), while locks and the rest work.
    const statsKey = `{${stack.ns}}:idx:stats`;
    const saved = await stack.deps.redis.hgetall(statsKey);
    await stack.deps.redis.del(statsKey);
    await stack.deps.redis.set(statsKey, 'not a hash');
    try {
      const corrupt = await fetchBytes(chunkUrl(digest));
      expect(corrupt.status).toBe(502);
      expect(JSON.parse(corrupt.body.toString()).message).toMatch(/verification/);
      expect((await fetchBytes(chunkUrl('fe'.repeat(32)))).status).toBe(404);
    } finally {
      await stack.deps.redis.del(statsKey);
      if (Object.keys(saved).length > 0) await stack.deps.redis.hset(statsKey, saved);
    }
  });

  it('with S3 down, still serves hits and answers misses with 503 without hanging', async () => {
    const cached = await stack.putChunk('demo', randomBytes(3000));
    const cold = await stack.putChunk('demo', randomBytes(3000));
    expect((await fetchBytes(chunkUrl(cached.digest))).status).toBe(200);
    await stack.s3?.stop();
    const hit = await fetchBytes(chunkUrl(cached.digest));
    expect(hit.status).toBe(200);
    expect(hit.headers.get('x-larder-cache')).toBe('hit');
    expect(hit.body.equals(cached.bytes)).toBe(true);
    const miss = await fetchBytes(chunkUrl(cold.digest));
    expect(miss.status).toBe(503);
    expect(JSON.parse(miss.body.toString()).message).toMatch(/S3/);
  });

  it('answers 503 when no chunk-fetcher is running', async () => {
    await stack.stopFetcher(0);
    const res = await fetchBytes(chunkUrl('cd'.repeat(32)));
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body.toString()).message).toMatch(/no service is running/);
  });
});
