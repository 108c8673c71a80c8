import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { putObjectBytes, s3ClientFor } from '@larder/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ gateways: 2, fetchers: 3 });
});
afterAll(() => stack?.cleanup());

const chunkUrl = (store: string, digest: string, g = 0) => `${stack.gateway(g)}/v1/stores/${store}/chunks/${digest}`;

describe('read-through chunk cache', () => {
  it('serves a miss from S3, then a hit from the volume, with one S3 GET', async () => {
    const { digest, key, bytes } = await stack.putChunk('demo', randomBytes(100_000));
    const first = await fetchBytes(chunkUrl('demo', digest));
    expect(first.status).toBe(200);
    expect(first.headers.get('x-larder-cache')).toBe('miss');
    expect(first.body.equals(bytes)).toBe(true);
    const second = await fetchBytes(chunkUrl('demo', digest, 1));
    expect(second.headers.get('x-larder-cache')).toBe('hit');
    expect(second.body.equals(bytes)).toBe(true);
    const head = await fetch(chunkUrl('demo', digest), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(bytes.length);
    expect(stack.s3?.stats.getsByKey.get(key)).toBe(1);
  });

  it('serves casync chunks at the casync store path', async () => {
    const { digest, bytes } = await stack.putChunk('cas', randomBytes(5000));
    const res = await fetchBytes(`${stack.gateway()}/casync/cas/${digest.slice(0, 4)}/${digest}.cacnk`);
    expect(res.status).toBe(200);
    expect(res.body.equals(bytes)).toBe(true);
    expect((await fetchBytes(`${stack.gateway()}/casync/cas/0000/${digest}.cacnk`)).status).toBe(404);
    expect((await fetchBytes(`${stack.gateway()}/casync/demo/${digest.slice(0, 4)}/${digest}.cacnk`)).status).toBe(404);
  });

  it('single flight: 64 concurrent requests through 2 gateways and 3 fetchers cause one S3 GET', async () => {
    const { digest, key, bytes } = await stack.putChunk('demo', randomBytes(1 << 20));
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => fetchBytes(chunkUrl('demo', digest, i % 2))));
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.body.equals(bytes)).toBe(true);
    }
    expect(stack.s3?.stats.getsByKey.get(key)).toBe(1);
  });

  it('refuses a corrupt object and never caches it', async () => {
    const { digest, key } = await stack.putChunk('demo', randomBytes(4096));
    // Overwrite the object with a different chunk's bytes: valid blob, wrong digest.
    const other = await stack.putChunk('demo', randomBytes(4096));
    const ds = stack.ds('demo');
    await putObjectBytes(s3ClientFor(ds), ds.bucket, key.slice(ds.bucket.length + 1), other.bytes);
    const res = await fetchBytes(chunkUrl('demo', digest));
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body.toString()).message).toMatch(/verification/);
    expect(await stack.deps.volume.hasChunk('demo', digest)).toBe(false);
    expect(await stack.deps.index.has(`demo/${digest}`)).toBe(false);
    expect((await stack.deps.index.stats()).verifyFailures).toBeGreaterThanOrEqual(1);
  });

  it('answers 404 with a clear message for an object missing in S3', async () => {
    const digest = 'ab'.repeat(32);
    const res = await fetchBytes(chunkUrl('demo', digest));
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body.toString()).message).toMatch(/not found in datastore demo/);
  });

  it('refuses malformed digests, unknown stores and path tricks without touching anything', async () => {
    const before = { requests: stack.s3?.stats.requests, totals: await stack.deps.index.totals() };
    const bad = [
      [chunkUrl('demo', 'xyz'), 400],
      [chunkUrl('demo', 'AB'.repeat(32)), 400],
      [chunkUrl('nosuch', 'ab'.repeat(32)), 404],
      [`${stack.gateway()}/v1/stores/demo/chunks/..%2F..%2Fetc%2Fpasswd`, 400],
      [`${stack.gateway()}/v1/stores/%2E%2E/chunks/${'ab'.repeat(32)}`, 404],
      [`${stack.gateway()}/v1/stores/demo/chunks/%zz`, 400],
      [`${stack.gateway()}/nothing-here`, 404],
    ] as const;
    for (const [url, status] of bad) {
      const res = await fetchBytes(url);
      expect(res.status, url).toBe(status);
      expect(JSON.parse(res.body.toString()).message).toBeTruthy();
    }
    expect((await fetch(chunkUrl('demo', 'ab'.repeat(32)), { method: 'DELETE' })).status).toBe(405);
    expect(stack.s3?.stats.requests).toBe(before.requests);
    expect(await stack.deps.index.totals()).toEqual(before.totals);
  });

  it('reports status', async () => {
    const res = await fetchBytes(`${stack.gateway()}/v1/status`);
    const s = JSON.parse(res.body.toString());
    expect(s.fetchersOnline).toBe(3);
    expect(s.hits).toBeGreaterThan(0);
    expect(s.misses).toBeGreaterThan(0);
    expect(s.s3Gets).toBeGreaterThan(0);
    expect(s.usedBytes).toBeGreaterThan(0);
    expect(s.capacityBytes).toBe(2 ** 30);
    expect((await fetchBytes(`${stack.gateway()}/healthz`)).status).toBe(200);
  });

  it('keeps no temp files after all this', async () => {
    const dirs = await readdir(stack.deps.volume.dir, { recursive: true });
    expect(dirs.filter((d) => String(d).includes('.tmp-'))).toEqual([]);
  });
});
