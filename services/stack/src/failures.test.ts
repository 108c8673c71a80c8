import { randomBytes } from 'node:crypto';
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
