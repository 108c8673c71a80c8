import { randomBytes } from 'node:crypto';
import { FETCH_PROGRESS_HEADER, decodeJson, encodeJson, subjects, type FetchReply } from '@larder/bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';

let stack: TestStack;
beforeAll(async () => {
  // A liveness timeout much shorter than one (slow) fetch: only the fetcher's progress messages keep the gateway from re-sending.
  stack = await startTestStack({
    config: {
      gateway: { listen: '127.0.0.1:0', nbdListen: '127.0.0.1:0', touchFlushInterval: '100ms', requestTimeout: '15s', fetchLivenessTimeout: '2s' },
      fetcher: { timeout: '10s', retries: 2, backoff: '50ms' },
    },
  });
});
afterAll(() => stack?.cleanup());

describe('fetch progress', () => {
  it("a slow fetch is kept alive by the fetcher's progress: one request, one S3 GET, and the services API still answers", async () => {
    const { digest, bytes } = await stack.putChunk('demo', randomBytes(50_000));
    stack.s3?.setFault({ delayMs: 4500 });
    const before = stack.fetchers[0]?.stats().fetched ?? 0;
    const res = await fetchBytes(`${stack.gateway()}/v1/stores/demo/chunks/${digest}`);
    stack.s3?.setFault(undefined);
    expect(res.status).toBe(200);
    expect(res.body.equals(bytes)).toBe(true);
    expect((stack.fetchers[0]?.stats().fetched ?? 0) - before).toBe(1);
    expect([...(stack.s3?.stats.getsByKey.entries() ?? [])].filter(([k]) => k.endsWith(digest)).map(([, n]) => n)).toEqual([1]);
    const status = JSON.parse((await fetchBytes(`${stack.gateway()}/v1/status`)).body.toString()) as { fetchersOnline: number };
    expect(status.fetchersOnline).toBe(1);
  });

  it('a request without the progress header (an older gateway) gets the final reply only', async () => {
    const { digest } = await stack.putChunk('demo', randomBytes(2000));
    stack.s3?.setFault({ delayMs: 1500 });
    try {
      const msg = await stack.deps.nc.request(subjects(stack.ns).fetch, encodeJson({ store: 'demo', digest }), { timeout: 10_000 });
      expect(msg.headers?.has(FETCH_PROGRESS_HEADER) ?? false).toBe(false);
      expect(decodeJson<FetchReply>(msg.data)).toMatchObject({ source: 's3' });
    } finally {
      stack.s3?.setFault(undefined);
    }
  });
});
