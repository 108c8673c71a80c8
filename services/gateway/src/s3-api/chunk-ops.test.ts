import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateMultipartUploadCommand, DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ResolvedDatastore } from '@larder/config';
import { getObjectBytes } from '@larder/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChunkObject, ChunkObjects, ChunkPutResult, ChunkUpload } from './chunk-objects.js';
import { S3ApiError } from './s3-errors.js';
import { startS3EndpointEnv, type S3EndpointEnv } from './test-s3-endpoint.js';

/**
 * A stand-in for ChunkObjectStore (built on another branch) with the interface's behaviour, so that the endpoint's
 * routing of chunk keys is tested: bodies "verify" when their SHA-256 is the key's digest; known chunks are not uploaded.
 */
class StandInChunkObjects implements ChunkObjects {
  readonly held = new Map<string, Buffer>();
  readonly known = new Set<string>();
  readonly calls: string[] = [];
  private readonly dir = mkdtempSync(path.join(tmpdir(), 'larder-chunk-objects-'));

  digestOf(ds: ResolvedDatastore, key: string): string | undefined {
    return ds.layout === 'pbs' ? /^\.chunks\/[0-9a-f]{4}\/([0-9a-f]{64})$/.exec(key)?.[1] : undefined;
  }
  open(_ds: ResolvedDatastore, digest: string): Promise<ChunkObject> {
    this.calls.push(`open ${digest}`);
    const body = this.held.get(digest);
    if (!body) return Promise.reject(new S3ApiError('NoSuchKey', 'The specified key does not exist.'));
    const file = path.join(this.dir, digest);
    writeFileSync(file, body);
    return Promise.resolve({ fd: openSync(file, 'r'), size: body.length, etag: etagOf(body), lastModified: new Date(0), hit: true });
  }
  head(_ds: ResolvedDatastore, digest: string) {
    this.calls.push(`head ${digest}`);
    const body = this.held.get(digest);
    return Promise.resolve(body ? { size: body.length, etag: etagOf(body), lastModified: new Date(0) } : undefined);
  }
  async put(_ds: ResolvedDatastore, digest: string, body: Buffer, upload: ChunkUpload, opts: { ifNoneMatch: boolean }): Promise<ChunkPutResult> {
    this.calls.push(`put ${digest}`);
    if (createHash('sha256').update(body).digest('hex') !== digest) throw new S3ApiError('BadDigest', 'the body is not the chunk its key names');
    if (this.known.has(digest)) return { etag: etagOf(body), uploaded: false, preconditionFailed: opts.ifNoneMatch };
    const r = await upload(body, opts);
    if (r.preconditionFailed) return { etag: '', uploaded: false, preconditionFailed: true };
    this.known.add(digest);
    this.held.set(digest, body);
    return { etag: r.etag ?? etagOf(body), uploaded: true, preconditionFailed: false };
  }
  deleted(_ds: ResolvedDatastore, digests: string[]): Promise<void> {
    for (const d of digests) {
      this.calls.push(`deleted ${d}`);
      this.known.delete(d);
      this.held.delete(d);
    }
    return Promise.resolve();
  }
  knownPut(_ds: ResolvedDatastore, digest: string): Promise<boolean> {
    this.calls.push(`knownPut ${digest}`);
    return Promise.resolve(this.known.has(digest));
  }
  seen(_ds: ResolvedDatastore, digest: string): void {
    this.calls.push(`seen ${digest}`);
    this.known.add(digest);
  }
  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const etagOf = (b: Buffer) => `"${createHash('md5').update(b).digest('hex')}"`;

let env: S3EndpointEnv;
let c: S3Client;
const chunks = new StandInChunkObjects();

beforeAll(async () => {
  env = await startS3EndpointEnv({ chunkObjects: chunks });
  c = env.client();
});

afterAll(async () => {
  await env?.stop();
  chunks.close();
});

function chunk(): { digest: string; key: string; body: Buffer } {
  const body = randomBytes(3000);
  const digest = createHash('sha256').update(body).digest('hex');
  return { digest, key: `pfx/store/.chunks/${digest.slice(0, 4)}/${digest}`, body };
}

describe('S3 endpoint: chunk keys', () => {
  it('writes a chunk through once (a known chunk is not uploaded again), serves GET and ranges from the cache', async () => {
    const { digest, key, body } = chunk();
    const before = env.s3.stats.puts;
    const put = await c.send(new PutObjectCommand({ Bucket: 'demo', Key: key, Body: body }));
    expect(put.ETag).toBe(etagOf(body));
    expect(env.s3.stats.puts - before).toBe(1);
    expect((await getObjectBytes(env.upstream(), env.ds('demo').bucket, key)).equals(body)).toBe(true);
    await c.send(new PutObjectCommand({ Bucket: 'demo', Key: key, Body: body }));
    expect(env.s3.stats.puts - before).toBe(1);

    const gets = env.s3.stats.objectGets;
    const got = await c.send(new GetObjectCommand({ Bucket: 'demo', Key: key }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    const ranged = await c.send(new GetObjectCommand({ Bucket: 'demo', Key: key, Range: 'bytes=10-19' }));
    expect(Buffer.from(await ranged.Body!.transformToByteArray()).equals(body.subarray(10, 20))).toBe(true);
    expect(ranged.ContentRange).toBe(`bytes 10-19/${body.length}`);
    const head = await c.send(new HeadObjectCommand({ Bucket: 'demo', Key: key }));
    expect(head.ContentLength).toBe(body.length);
    expect(env.s3.stats.objectGets).toBe(gets);
    expect(chunks.calls).toContain(`open ${digest}`);
  });

  it('refuses a body that is not the chunk its key names; nothing is written upstream', async () => {
    const { key } = chunk();
    const before = env.s3.stats.puts;
    await expect(c.send(new PutObjectCommand({ Bucket: 'demo', Key: key, Body: randomBytes(100) }))).rejects.toMatchObject({ name: 'BadDigest' });
    expect(env.s3.stats.puts).toBe(before);
  });

  it('answers If-None-Match: * for a chunk S3 has with 412 PreconditionFailed', async () => {
    const { key, body } = chunk();
    await c.send(new PutObjectCommand({ Bucket: 'demo', Key: key, Body: body }));
    await expect(c.send(new PutObjectCommand({ Bucket: 'demo', Key: key, Body: body, IfNoneMatch: '*' }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
  });

  it('answers a conditional PUT of a known chunk 412 from the record alone (its body is not checked or kept), and the connection goes on', async () => {
    const { digest, key, body } = chunk();
    await c.send(new PutObjectCommand({ Bucket: 'demo', Key: key, Body: body }));
    const before = env.s3.stats.puts;
    const puts = chunks.calls.filter((x) => x === `put ${digest}`).length;
    for (let i = 0; i < 3; i++) {
      await expect(c.send(new PutObjectCommand({ Bucket: 'demo', Key: key, Body: body, IfNoneMatch: '*' }))).rejects.toMatchObject({ name: 'PreconditionFailed' });
    }
    expect(chunks.calls.filter((x) => x === `put ${digest}`).length).toBe(puts);
    expect(env.s3.stats.puts).toBe(before);
    // The same client's next request, on the same keep-alive connection, is answered as usual.
    const got = await c.send(new GetObjectCommand({ Bucket: 'demo', Key: key }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
  });

  it('passes a HEAD of a chunk this node lacks to S3 and records a 200', async () => {
    const { digest, key, body } = chunk();
    await env.upstream().send(new PutObjectCommand({ Bucket: env.ds('demo').bucket, Key: key, Body: body }));
    const head = await c.send(new HeadObjectCommand({ Bucket: 'demo', Key: key }));
    expect(head.ContentLength).toBe(body.length);
    expect(chunks.calls).toContain(`seen ${digest}`);
  });

  it('deletes chunks in S3 and has the cache forget them (DeleteObject and DeleteObjects)', async () => {
    const a = chunk();
    const b = chunk();
    for (const x of [a, b]) await c.send(new PutObjectCommand({ Bucket: 'demo', Key: x.key, Body: x.body }));
    await c.send(new DeleteObjectCommand({ Bucket: 'demo', Key: a.key }));
    await c.send(new DeleteObjectsCommand({ Bucket: 'demo', Delete: { Quiet: true, Objects: [{ Key: b.key }, { Key: 'not-a-chunk' }] } }));
    expect(chunks.calls).toEqual(expect.arrayContaining([`deleted ${a.digest}`, `deleted ${b.digest}`]));
    await expect(c.send(new GetObjectCommand({ Bucket: 'demo', Key: a.key }))).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  it('refuses a multipart upload to a chunk key', async () => {
    await expect(c.send(new CreateMultipartUploadCommand({ Bucket: 'demo', Key: chunk().key }))).rejects.toMatchObject({ name: 'InvalidRequest' });
  });

  it('passes a chunk-shaped key outside the datastore prefix through (client keys are upstream keys)', async () => {
    const { digest, key, body } = chunk();
    const outside = key.replace('pfx/store/', 'elsewhere/');
    await c.send(new PutObjectCommand({ Bucket: 'demo', Key: outside, Body: body }));
    expect((await getObjectBytes(env.upstream(), env.ds('demo').bucket, outside)).equals(body)).toBe(true);
    expect(chunks.calls).not.toContain(`put ${digest}`);
  });

  it('passes keys of a layout without chunk keys (casync store here: the stand-in knows pbs only) through', async () => {
    const { key, body } = chunk();
    await c.send(new PutObjectCommand({ Bucket: 'cas', Key: key, Body: body }));
    expect((await getObjectBytes(env.upstream(), env.ds('cas').bucket, key)).equals(body)).toBe(true);
  });
});
