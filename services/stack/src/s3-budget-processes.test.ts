import { randomBytes } from 'node:crypto';
import { encodeChunk } from '@larder/formats';
import { chunkObjectKey, putObjectBytes, s3ClientFor } from '@larder/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcessStack, type ProcessStack } from './test-processes.js';

// Two chunk-fetcher processes and a gateway process share one budget of 20 GETs/s through Redis.
const LIMIT = 20;
let stack: ProcessStack;

beforeAll(async () => {
  stack = await startProcessStack({
    fetchers: 2,
    config: {
      budgets: { provider: { getPerSecond: LIMIT } },
      datastores: { demo: { layout: 'pbs', bucket: `budget-${randomBytes(4).toString('hex')}`, budget: 'provider' } },
      fetcher: { timeout: '30s', retries: 2, backoff: '50ms' },
    },
  });
}, 90_000);
afterAll(() => stack?.cleanup());

describe('a request budget across processes', () => {
  it(`two fetcher processes together stay within ${LIMIT} GETs/s at S3, with zero client errors`, async () => {
    // Put by this process, which has no budget installed.
    const d = stack.ds('demo');
    const digests: string[] = [];
    for (let i = 0; i < 60; i++) {
      const { digest, bytes } = encodeChunk(d.layout, randomBytes(4096), d.digest);
      await putObjectBytes(s3ClientFor(d), d.bucket, chunkObjectKey(d, digest), bytes);
      digests.push(digest);
    }
    stack.s3.resetStats();
    stack.s3.setFault({ rateLimit: { getsPerSecond: LIMIT, by: 'signed' } });
    try {
      const statuses = await Promise.all(
        digests.map(async (digest) => {
          const res = await fetch(`${stack.gatewayUrl}/v1/stores/demo/chunks/${digest}`, { signal: AbortSignal.timeout(60_000) });
          await res.arrayBuffer();
          return res.status;
        }),
      );
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
    } finally {
      stack.s3.setFault(undefined);
    }
    const perSecond = [...stack.s3.stats.getsPerSignedSecond.values()];
    // One GET per chunk, and a few more only when a fetch was retried (a loaded machine can make the gateway re-send one).
    expect(perSecond.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(60);
    expect(Math.max(...perSecond)).toBeLessThanOrEqual(LIMIT);
    expect(stack.s3.stats.throttled).toBe(0);
  }, 120_000);
});
