import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkSizes, uploadChunkedImage, uploadFileObject, writeRandomImage } from './image-fixture.js';
import type { ChunkedImage } from './image-fixture.js';
import { objectUrl, timeObjectGets, bestParallelGets } from './s3-gets.js';
import { startWanS3 } from './wan-s3.js';
import { fetchBuffer } from './fetch-buffer.js';
import type { WanS3 } from './wan-s3.js';
import { KiB, MiB } from './units.js';
import { readFile } from 'node:fs/promises';

describe('S3 behind the WAN proxy', () => {
  let dir: string;
  let s3: WanS3;
  let pbs: ChunkedImage;
  let casync: ChunkedImage;
  let raw: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'larder-bench-test-'));
    s3 = await startWanS3({ directory: join(dir, 's3'), buckets: ['b'], isolate: false, link: { latencyMs: 2, bandwidthBytesPerSec: 256 * MiB, handshakeMs: 4 } });
    await writeRandomImage(join(dir, 'raw'), 9 * MiB + 123);
    raw = await readFile(join(dir, 'raw'));
    pbs = await uploadChunkedImage({ endpoint: s3.directEndpoint, bucket: 'b', prefix: 'p', name: 'x', format: 'pbs', rawPath: join(dir, 'raw') });
    casync = await uploadChunkedImage({ endpoint: s3.directEndpoint, bucket: 'b', prefix: 'c', name: 'x', format: 'casync', rawPath: join(dir, 'raw') });
    await uploadFileObject(s3.directEndpoint, 'b', 'raw/x.img', join(dir, 'raw'));
  });
  afterAll(async () => {
    await s3?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('stores chunks under the store layouts, byte for byte (no aws-chunked framing)', async () => {
    expect(pbs.chunks.map((c) => c.size)).toEqual([4 * MiB, 4 * MiB, MiB + 123]);
    const first = pbs.chunks[0];
    expect(first?.key).toMatch(/^p\/\.chunks\/[0-9a-f]{4}\/[0-9a-f]{64}$/);
    const c0 = casync.chunks[0];
    expect(c0?.key).toMatch(/^c\/[0-9a-f]{4}\/[0-9a-f]{64}\.cacnk$/);
    for (const c of [first, casync.chunks[5]]) {
      if (!c) throw new Error('missing chunk');
      const body = await fetchBuffer(objectUrl(s3.endpoint, 'b', c.key));
      expect(body.equals(raw.subarray(c.offset, c.offset + c.size))).toBe(true);
      expect(createHash('sha256').update(body).digest('hex')).toBe(c.digest);
    }
    const whole = await fetchBuffer(objectUrl(s3.endpoint, 'b', 'raw/x.img'));
    expect(whole.equals(raw)).toBe(true);
  });

  it('counts every byte of queue-depth-1 and parallel GET runs, with both clients', async () => {
    const keys = casync.chunks.map((c) => c.key);
    const bytes = casync.chunks.reduce((n, c) => n + c.size, 0);
    for (const client of ['http', 'sdk'] as const) {
      const one = await timeObjectGets({ endpoint: s3.endpoint, bucket: 'b', keys, concurrency: 1, client });
      expect(one.objects).toBe(keys.length);
      expect(one.bytes).toBe(bytes);
    }
    await s3.resetStats();
    const { runs, best } = await bestParallelGets({ endpoint: s3.endpoint, bucket: 'b', keys }, [4, 16]);
    expect(runs.map((r) => r.bytes)).toEqual([bytes, bytes]);
    expect(runs).toContain(best);
    const stats = await s3.s3Stats();
    expect(stats.objectGets).toBe(2 * keys.length);
    expect(stats.getsByKey[`b/${keys[0]}`]).toBe(2);
    expect((await s3.proxyStats()).bytesDown).toBeGreaterThan(2 * bytes);
  });

  it('stops issuing GETs when the time budget is spent', async () => {
    const keys = casync.chunks.map((c) => c.key);
    const r = await timeObjectGets({ endpoint: s3.endpoint, bucket: 'b', keys, concurrency: 1, budgetMs: 0 });
    expect(r.objects).toBe(0);
  });
});

describe('chunkSizes', () => {
  it('cuts pbs images in 4 MiB chunks and casync images in 16–256 KiB chunks of about 64 KiB', () => {
    expect(chunkSizes('pbs', 10 * MiB)).toEqual([4 * MiB, 4 * MiB, 2 * MiB]);
    const sizes = chunkSizes('casync', 64 * MiB);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(64 * MiB);
    expect(Math.min(...sizes.slice(0, -1))).toBeGreaterThanOrEqual(16 * KiB);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(256 * KiB);
    const avg = (64 * MiB) / sizes.length;
    expect(avg).toBeGreaterThan(48 * KiB);
    expect(avg).toBeLessThan(80 * KiB);
  });
});
