import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedS3, type EmbeddedS3 } from '@larder/s3-server';
import { destroyS3Clients, s3ClientFor } from './client.js';
import { ensureBucket } from './buckets.js';
import { classifyS3Error, S3Error } from './errors.js';
import { getObjectBytes, putObjectBytes } from './objects.js';
import { destroyObjectGetters, objectGetterFor } from './object-getter.js';
import type { RetryPolicy } from './retry.js';

const FAST: RetryPolicy = { timeoutMs: 5_000, retries: 3, backoffMs: 5 };

let s3: EmbeddedS3;
let dir: string;
let buckets = 0;
const conn = () => ({ endpoint: s3.endpoint, region: 'us-east-1', pathStyle: true, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-getter-'));
  s3 = await startEmbeddedS3({ directory: dir });
});

afterEach(() => s3.setFault(undefined));

afterAll(async () => {
  destroyObjectGetters();
  destroyS3Clients();
  await s3.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A fresh bucket holding the given objects. */
async function bucketWith(objects: Record<string, Buffer>): Promise<string> {
  const client = s3ClientFor(conn());
  const bucket = `getter-${process.pid}-${++buckets}`;
  await ensureBucket(client, bucket);
  for (const [key, body] of Object.entries(objects)) await putObjectBytes(client, bucket, key, body);
  return bucket;
}

/** The S3Error a promise rejects with. */
async function failure(p: Promise<unknown>): Promise<S3Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(S3Error);
  return err as S3Error;
}

describe('objectGetterFor', () => {
  it('returns one getter per distinct connection', () => {
    expect(objectGetterFor(conn())).toBe(objectGetterFor(conn()));
    expect(objectGetterFor(conn())).not.toBe(objectGetterFor(conn(), { maxSockets: 2 }));
  });

  it('round-trips a 64 KiB and a 4 MiB object byte for byte, as the SDK reads them', async () => {
    const small = randomBytes(64 * 1024);
    const large = randomBytes(4 * 1024 * 1024);
    const bucket = await bucketWith({ '.chunks/ab12/small': small, '.chunks/cd34/large': large });
    const getter = objectGetterFor(conn());
    const [gotSmall, gotLarge] = await Promise.all([getter.get(bucket, '.chunks/ab12/small'), getter.get(bucket, '.chunks/cd34/large')]);
    expect(gotSmall.equals(small)).toBe(true);
    expect(gotLarge.equals(large)).toBe(true);
    expect((await getObjectBytes(s3ClientFor(conn()), bucket, '.chunks/cd34/large')).equals(gotLarge)).toBe(true);
    const many = await Promise.all(Array.from({ length: 40 }, () => getter.get(bucket, '.chunks/ab12/small')));
    for (const b of many) expect(b.equals(small)).toBe(true);
  });

  it('reads keys that need encoding: spaces, +, unicode, slashes, reserved characters', async () => {
    const keys = ['a b+c/ü€.txt', "dir/sub dir/x+y=z&q?#'(1)*!.bin", '日本語/キー', 'pct%20literal', 'emoji 😀', 'empty'];
    const objects = Object.fromEntries(keys.map((k) => [k, k === 'empty' ? Buffer.alloc(0) : Buffer.from(`body of ${k}`)]));
    const bucket = await bucketWith(objects);
    const getter = objectGetterFor(conn());
    for (const key of keys) expect((await getter.get(bucket, key)).equals(objects[key]!), key).toBe(true);
    expect([...s3.stats.getsByKey.keys()]).toEqual(expect.arrayContaining(keys.map((k) => `${bucket}/${k}`)));
  });

  it('answers a missing object or bucket with kind not-found, without retrying', async () => {
    const bucket = await bucketWith({});
    const getter = objectGetterFor(conn());
    const retries: number[] = [];
    const missing = await failure(getter.get(bucket, 'no/such/key', FAST, (a) => retries.push(a)));
    expect(missing).toMatchObject({ kind: 'not-found', key: 'no/such/key' });
    expect(missing.cause).toMatchObject({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
    expect(await failure(getter.get(`${bucket}-absent`, 'k', FAST))).toMatchObject({ kind: 'not-found' });
    expect(retries).toEqual([]);
  });

  it('answers refused credentials with kind denied (s3rver checks the access key; it does not verify V4 signatures)', async () => {
    const bucket = await bucketWith({ k: Buffer.from('x') });
    const err = await failure(objectGetterFor({ ...conn(), accessKeyId: 'WRONG' }).get(bucket, 'k', FAST));
    expect(err.kind).toBe('denied');
    expect(err.cause).toMatchObject({ name: 'InvalidAccessKeyId', $metadata: { httpStatusCode: 403 } });
    s3.setFault({ status: 403 });
    expect(await failure(objectGetterFor(conn()).get(bucket, 'k', FAST))).toMatchObject({ kind: 'denied' });
  });

  it('retries an injected 503 and a dropped connection, then succeeds', async () => {
    const body = randomBytes(64 * 1024);
    const bucket = await bucketWith({ k: body });
    const getter = objectGetterFor(conn());
    for (const fault of [{ status: 503 }, { drop: true }]) {
      s3.setFault(fault);
      const retried: unknown[] = [];
      const got = await getter.get(bucket, 'k', FAST, (attempt, err) => {
        retried.push(err);
        if (attempt === 2) s3.setFault(undefined);
      });
      expect(got.equals(body)).toBe(true);
      expect(retried).toHaveLength(2);
      for (const err of retried) expect(classifyS3Error(err)).toMatchObject({ kind: 'unavailable', transient: true });
    }
  });

  it('fails as unavailable when the faults persist, after the policy retries', async () => {
    const bucket = await bucketWith({ k: Buffer.from('x') });
    const getter = objectGetterFor(conn());
    for (const fault of [{ status: 503 }, { drop: true }]) {
      s3.setFault(fault);
      s3.resetStats();
      const err = await failure(getter.get(bucket, 'k', FAST));
      expect(err.kind).toBe('unavailable');
      expect(err.message).toContain('4 attempts');
      expect(s3.stats.objectGets).toBe(4);
    }
  });

  it('gives up with kind timeout when S3 answers after the deadline', async () => {
    const bucket = await bucketWith({ k: Buffer.from('x') });
    s3.setFault({ delayMs: 1_000 });
    const started = Date.now();
    const err = await failure(objectGetterFor(conn()).get(bucket, 'k', { timeoutMs: 200, retries: 3, backoffMs: 5 }));
    expect(err.kind).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(900);
  });
});
