import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedS3, type EmbeddedS3 } from '@larder/s3-server';
import { ensureBucket } from './buckets.js';
import { destroyS3Clients, s3ClientFor } from './client.js';
import { listObjects, putObjectBytes } from './objects.js';

let s3: EmbeddedS3;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-objects-'));
  s3 = await startEmbeddedS3({ directory: dir });
});

afterAll(async () => {
  destroyS3Clients();
  await s3.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('listObjects', () => {
  it('pages through more than 1,000 keys (the embedded server continues ListObjectsV2 without DES)', async () => {
    const client = s3ClientFor({ endpoint: s3.endpoint, region: 'us-east-1', pathStyle: true, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
    const bucket = `objects-${process.pid}`;
    await ensureBucket(client, bucket);
    const keys = Array.from({ length: 1005 }, (_, i) => `p/${String(i).padStart(5, '0')}`);
    for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => putObjectBytes(client, bucket, k, Buffer.from(k))));
    const listed: string[] = [];
    for await (const o of listObjects(client, bucket, 'p/')) listed.push(o.key);
    expect(listed).toEqual(keys);
  }, 120_000);
});
