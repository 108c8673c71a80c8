import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getObjectBytes, SigV4Signer } from '@larder/s3';
import { canonicalQuery } from './upstream.js';
import { BUFFERED_PUT_BYTES } from './request-body.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startS3EndpointEnv, type S3EndpointEnv } from './test-s3-endpoint.js';

let env: S3EndpointEnv;
let c: S3Client;

beforeAll(async () => {
  env = await startS3EndpointEnv();
  c = env.client();
});

afterAll(async () => {
  await env?.stop();
});

/** A fresh key folder per test, so that tests never see one another's objects. */
const folder = () => `t-${randomBytes(4).toString('hex')}`;
const upBytes = (ds: string, key: string) => getObjectBytes(env.upstream(), env.ds(ds).bucket, key);
const errorOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err as { name: string; $metadata: { httpStatusCode?: number }; message: string };
  }
  throw new Error('expected a failure');
};
/** A request sent as written (no URL normalisation, any Host), signed with SigV4 over exactly that path, query and body. */
const raw = (target: string, init: { method?: string; body?: string | Buffer; headers?: Record<string, string>; payloadHash?: string } = {}, key = KEYS.rw) =>
  new Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const query = canonicalQuery([...new URLSearchParams(q < 0 ? '' : target.slice(q + 1))]);
    const body = init.body === undefined ? Buffer.alloc(0) : Buffer.from(init.body);
    const host = init.headers?.host ?? new URL(env.url).host;
    const headers = new SigV4Signer(key, 'us-east-1').sign({
      method: init.method ?? 'GET',
      host,
      path,
      query,
      headers: Object.fromEntries(Object.entries(init.headers ?? {}).filter(([n]) => n !== 'host')),
      payloadHash: init.payloadHash ?? createHash('sha256').update(body).digest('hex'),
    });
    const req = http.request(`${env.url}${path}`, { method: init.method ?? 'GET', headers });
    req.path = query ? `${path}?${query}` : path;
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });

describe('S3 endpoint: objects', () => {
  it('puts, gets, heads and deletes an object; upstream holds it under the same key', async () => {
    const key = `${folder()}/a b+c.txt`;
    const body = Buffer.from('hello larder');
    const put = await c.send(new PutObjectCommand({ Bucket: 'demo', Key: key, Body: body, ContentType: 'text/plain', Metadata: { colour: 'blue' } }));
    expect(put.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(await upBytes('demo', `${key}`)).toEqual(body);

    const got = await c.send(new GetObjectCommand({ Bucket: 'demo', Key: key }));
    expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(body);
    expect(got.ContentType).toBe('text/plain');
    expect(got.Metadata).toEqual({ colour: 'blue' });
    expect(got.ETag).toBe(put.ETag);

    const ranged = await c.send(new GetObjectCommand({ Bucket: 'demo', Key: key, Range: 'bytes=6-11' }));
    expect(await ranged.Body!.transformToString()).toBe('larder');
    expect(ranged.ContentRange).toBe(`bytes 6-11/${body.length}`);

    const head = await c.send(new HeadObjectCommand({ Bucket: 'demo', Key: key }));
    expect(head.ContentLength).toBe(body.length);

    await c.send(new DeleteObjectCommand({ Bucket: 'demo', Key: key }));
    const gone = await errorOf(c.send(new GetObjectCommand({ Bucket: 'demo', Key: key })));
    expect(gone.name).toBe('NoSuchKey');
    expect((await errorOf(c.send(new HeadObjectCommand({ Bucket: 'demo', Key: key })))).$metadata.httpStatusCode).toBe(404);
  });

  it('streams a large object both ways (beyond the buffered size)', async () => {
    const key = `${folder()}/big.bin`;
    const body = randomBytes(20 * 1024 * 1024 + 3);
    await c.send(new PutObjectCommand({ Bucket: 'cas', Key: key, Body: body }));
    const got = await c.send(new GetObjectCommand({ Bucket: 'cas', Key: key }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    expect((await upBytes('cas', key)).equals(body)).toBe(true);
  });

  it('copies an object within a bucket and across buckets', async () => {
    const f = folder();
    await c.send(new PutObjectCommand({ Bucket: 'demo', Key: `${f}/src`, Body: 'copy me' }));
    await c.send(new CopyObjectCommand({ Bucket: 'demo', Key: `${f}/dst`, CopySource: `demo/${f}/src` }));
    expect((await upBytes('demo', `${f}/dst`)).toString()).toBe('copy me');
    await c.send(new CopyObjectCommand({ Bucket: 'cas', Key: `${f}/dst2`, CopySource: `/demo/${encodeURIComponent(`${f}/src`)}` }));
    expect((await upBytes('cas', `${f}/dst2`)).toString()).toBe('copy me');
  });

  it('deletes many objects (Deleted entries, Quiet mode, refused keys as Error entries)', async () => {
    const f = folder();
    for (const k of ['a', 'b', 'c']) await c.send(new PutObjectCommand({ Bucket: 'demo', Key: `${f}/${k}`, Body: k }));
    const res = await c.send(new DeleteObjectsCommand({ Bucket: 'demo', Delete: { Objects: [{ Key: `${f}/a` }, { Key: `${f}/b` }, { Key: `${f}/../x` }] } }));
    expect(res.Deleted?.map((d) => d.Key).sort()).toEqual([`${f}/a`, `${f}/b`]);
    expect(res.Errors?.map((e) => [e.Key, e.Code])).toEqual([[`${f}/../x`, 'InvalidObjectName']]);
    const quiet = await c.send(new DeleteObjectsCommand({ Bucket: 'demo', Delete: { Quiet: true, Objects: [{ Key: `${f}/c` }] } }));
    expect(quiet.Deleted ?? []).toEqual([]);
    const left = await c.send(new ListObjectsV2Command({ Bucket: 'demo', Prefix: `${f}/` }));
    expect(left.KeyCount).toBe(0);
  });

  it('passes a multipart upload through (create, parts, complete; list parts and abort as S3 answers them)', async () => {
    const key = `${folder()}/multi.bin`;
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(1234)];
    const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: 'demo', Key: key }));
    expect(UploadId).toBeTruthy();
    const etags: string[] = [];
    for (const [i, p] of parts.entries()) etags.push((await c.send(new UploadPartCommand({ Bucket: 'demo', Key: key, UploadId, PartNumber: i + 1, Body: p }))).ETag!);
    // s3rver has no ListParts and no AbortMultipartUpload: its answer comes through as it is.
    expect((await errorOf(c.send(new ListPartsCommand({ Bucket: 'demo', Key: key, UploadId })))).name).toBe('MethodNotAllowed');
    const done = await c.send(
      new CompleteMultipartUploadCommand({ Bucket: 'demo', Key: key, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
    );
    expect(done.Key).toBe(key);
    expect(done.Bucket).toBe('demo');
    expect((await upBytes('demo', `${key}`)).equals(Buffer.concat(parts))).toBe(true);

    const other = await c.send(new CreateMultipartUploadCommand({ Bucket: 'demo', Key: `${key}.2` }));
    expect((await errorOf(c.send(new AbortMultipartUploadCommand({ Bucket: 'demo', Key: `${key}.2`, UploadId: other.UploadId })))).$metadata.httpStatusCode).toBe(405);
  });
});

describe('S3 endpoint: request bodies are verified before S3 completes anything', () => {
  const upstreamHas = async (key: string) => (await env.upstream().send(new ListObjectsV2Command({ Bucket: env.ds('demo').bucket, Prefix: `${key}` }))).KeyCount ?? 0;

  it('refuses a small body whose SHA-256 is not the signed one; nothing is written', async () => {
    const key = `${folder()}/small`;
    const res = await raw(`/demo/${key}`, { method: 'PUT', body: 'the body', payloadHash: createHash('sha256').update('another body').digest('hex') });
    expect(res.status).toBe(400);
    expect(res.text).toContain('<Code>XAmzContentSHA256Mismatch</Code>');
    expect(await upstreamHas(key)).toBe(0);
  });

  it('refuses a large streamed body whose SHA-256 is not the signed one; S3 never gets the whole object', async () => {
    const key = `${folder()}/large`;
    const body = randomBytes(BUFFERED_PUT_BYTES + 1024 * 1024);
    const res = await raw(`/demo/${key}`, { method: 'PUT', body, payloadHash: createHash('sha256').update('something else').digest('hex') });
    expect(res.status).toBe(400);
    expect(res.text).toContain('<Code>XAmzContentSHA256Mismatch</Code>');
    // The upstream request was cut before its Content-Length: S3 refuses such a body. s3rver keeps what arrived, so
    // here the check is that it never got the whole object.
    const stored = await upBytes('demo', `${key}`).catch(() => Buffer.alloc(0));
    expect(stored.length).toBeLessThan(body.length);
    // The same body, signed right, goes through.
    expect((await raw(`/demo/${key}`, { method: 'PUT', body })).status).toBe(200);
    expect((await upBytes('demo', `${key}`)).equals(body)).toBe(true);
  });

  it("decodes an aws-chunked upload with a trailing checksum (the SDK's default for a stream body)", async () => {
    const key = `${folder()}/chunked`;
    const body = randomBytes(200_000);
    const sdk = new S3Client({ endpoint: env.url, region: 'us-east-1', forcePathStyle: true, credentials: KEYS.rw, maxAttempts: 1, requestChecksumCalculation: 'WHEN_SUPPORTED' });
    try {
      await sdk.send(new PutObjectCommand({ Bucket: 'demo', Key: key, Body: Readable.from([body.subarray(0, 70_000), body.subarray(70_000)]), ContentLength: body.length }));
    } finally {
      sdk.destroy();
    }
    expect((await upBytes('demo', `${key}`)).equals(body)).toBe(true);
  });

  it('refuses an upload cut short; nothing is written', async () => {
    const key = `${folder()}/cut`;
    const body = Buffer.alloc(1000, 1);
    await new Promise<void>((resolve) => {
      const headers = new SigV4Signer(KEYS.rw, 'us-east-1').sign({
        method: 'PUT',
        host: new URL(env.url).host,
        path: `/demo/${key}`,
        headers: { 'content-length': '5000' },
        payloadHash: 'UNSIGNED-PAYLOAD',
      });
      const req = http.request(`${env.url}/demo/${key}`, { method: 'PUT', headers });
      req.on('error', () => resolve());
      req.on('response', () => resolve());
      req.write(body, () => setTimeout(() => req.destroy(), 100));
    });
    expect(await upstreamHas(key)).toBe(0);
  });
});

describe('S3 endpoint: listings and buckets', () => {
  it('lists with prefix and delimiter, paginates V2 and V1', async () => {
    const f = folder();
    const keys = [`${f}/a/1`, `${f}/a/2`, `${f}/b/1`, `${f}/c`, `${f}/d`, `${f}/e`];
    for (const k of keys) await c.send(new PutObjectCommand({ Bucket: 'demo', Key: k, Body: k }));
    const top = await c.send(new ListObjectsV2Command({ Bucket: 'demo', Prefix: `${f}/`, Delimiter: '/' }));
    expect(top.CommonPrefixes?.map((p) => p.Prefix)).toEqual([`${f}/a/`, `${f}/b/`]);
    expect(top.Contents?.map((o) => o.Key)).toEqual([`${f}/c`, `${f}/d`, `${f}/e`]);
    expect(top.Prefix).toBe(`${f}/`);
    expect(top.Name).toBe('demo');

    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await c.send(new ListObjectsV2Command({ Bucket: 'demo', Prefix: `${f}/`, MaxKeys: 2, ContinuationToken: token }));
      seen.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
      pages++;
    } while (token && pages < 10);
    expect(seen).toEqual(keys);
    expect(pages).toBe(3);

    const after = await c.send(new ListObjectsV2Command({ Bucket: 'demo', Prefix: `${f}/`, StartAfter: `${f}/c` }));
    expect(after.Contents?.map((o) => o.Key)).toEqual([`${f}/d`, `${f}/e`]);

    const v1 = await c.send(new ListObjectsCommand({ Bucket: 'demo', Prefix: `${f}/`, Marker: `${f}/b/1`, MaxKeys: 2 }));
    expect(v1.Contents?.map((o) => o.Key)).toEqual([`${f}/c`, `${f}/d`]);
    expect(v1.IsTruncated).toBe(true);

    // Client keys are the upstream keys.
    const up = await env.upstream().send(new ListObjectsV2Command({ Bucket: env.ds('demo').bucket, Prefix: `${f}/` }));
    expect(up.KeyCount).toBe(keys.length);
  });

  it('url-encodes listed keys when asked (encoding-type=url)', async () => {
    const f = folder();
    await c.send(new PutObjectCommand({ Bucket: 'demo', Key: `${f}/sp ace+plus`, Body: 'x' }));
    const res = await raw(`/demo?list-type=2&encoding-type=url&prefix=${encodeURIComponent(`${f}/`)}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain(`<Key>${f}/sp+ace%2Bplus</Key>`);
    expect(res.text).toContain('<EncodingType>url</EncodingType>');
    const plain = await c.send(new ListObjectsV2Command({ Bucket: 'demo', Prefix: `${f}/` }));
    expect(plain.Contents?.map((o) => o.Key)).toEqual([`${f}/sp ace+plus`]);
  });

  it('lists the buckets a key may see; heads a bucket; tells its location', async () => {
    expect((await c.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(['cas', 'demo']);
    expect((await env.client(KEYS.ro).send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(['demo']);
    await c.send(new HeadBucketCommand({ Bucket: 'demo' }));
    expect((await c.send(new GetBucketLocationCommand({ Bucket: 'demo' }))).LocationConstraint).toBeUndefined();
  });

  it('serves virtual-hosted-style requests (bucket in the Host)', async () => {
    const f = folder();
    await c.send(new PutObjectCommand({ Bucket: 'demo', Key: `${f}/v`, Body: 'vhost' }));
    const port = env.server.port;
    const res = await raw(`/${f}/v`, { headers: { host: `demo.s3.localhost:${port}` } });
    expect(res.status).toBe(200);
    expect(res.text).toBe('vhost');
  });
});

describe('S3 endpoint: refusals', () => {
  it('answers an unknown bucket with NoSuchBucket and a missing key with NoSuchKey', async () => {
    expect((await errorOf(c.send(new GetObjectCommand({ Bucket: 'nope', Key: 'x' })))).name).toBe('NoSuchBucket');
    expect((await errorOf(c.send(new ListObjectsV2Command({ Bucket: 'nope' })))).name).toBe('NoSuchBucket');
    const missing = await errorOf(c.send(new GetObjectCommand({ Bucket: 'demo', Key: `${folder()}/missing` })));
    expect(missing.name).toBe('NoSuchKey');
    expect(missing.$metadata.httpStatusCode).toBe(404);
  });

  it('refuses a write with a read-only key, and a bucket the key may not use; nothing is written upstream', async () => {
    const key = `${folder()}/ro`;
    const ro = env.client(KEYS.ro);
    const denied = await errorOf(ro.send(new PutObjectCommand({ Bucket: 'demo', Key: key, Body: 'no' })));
    expect(denied.name).toBe('AccessDenied');
    expect(denied.$metadata.httpStatusCode).toBe(403);
    expect((await errorOf(upBytes('demo', `${key}`))).message).toMatch(/no such object/);
    expect((await errorOf(ro.send(new DeleteObjectsCommand({ Bucket: 'demo', Delete: { Objects: [{ Key: key }] } })))).name).toBe('AccessDenied');
    expect((await errorOf(ro.send(new GetObjectCommand({ Bucket: 'cas', Key: 'x' })))).name).toBe('AccessDenied');
    expect((await errorOf(env.client(KEYS.other).send(new PutObjectCommand({ Bucket: 'demo', Key: key, Body: 'no' })))).name).toBe('AccessDenied');
    // Reading from a bucket the key may not see is refused for a copy too.
    expect((await errorOf(env.client(KEYS.other).send(new CopyObjectCommand({ Bucket: 'cas', Key: 'x', CopySource: `demo/${key}` })))).name).toBe('AccessDenied');
  });

  it('refuses an unknown access key', async () => {
    const err = await errorOf(env.client({ accessKeyId: 'nobody', secretAccessKey: 'whatever-secret' }).send(new ListBucketsCommand({})));
    expect(err.name).toBe('InvalidAccessKeyId');
    expect(err.$metadata.httpStatusCode).toBe(403);
  });

  it('answers malformed XML with MalformedXML and deletes nothing', async () => {
    const f = folder();
    await c.send(new PutObjectCommand({ Bucket: 'demo', Key: `${f}/keep`, Body: 'x' }));
    for (const body of [`<Delete><Object><Key>${f}/keep</Key></Object>`, '<Delete><Object><Key>a</Key></Obj></Delete>', '<!DOCTYPE x><Delete/>', '<Other/>']) {
      const res = await raw('/demo?delete', { method: 'POST', body });
      expect(res.status).toBe(400);
      expect(res.text).toContain('<Code>MalformedXML</Code>');
    }
    expect((await upBytes('demo', `${f}/keep`)).toString()).toBe('x');
    const big = await raw('/demo?delete', { method: 'POST', body: `<Delete>${' '.repeat(1024 * 1024)}</Delete>` });
    expect(big.text).toContain('<Code>MalformedXML</Code>');
  });

  it('refuses . and .. segments, encoded slashes in the bucket, control characters and over-long keys', async () => {
    for (const [path, code] of [
      ['/demo/a/../../x', 'InvalidObjectName'],
      ['/demo/a/%2E%2E/x', 'InvalidObjectName'],
      ['/demo/./x', 'InvalidObjectName'],
      ['/demo%2Fx/y', 'InvalidBucketName'],
      ['/demo/a%00b', 'InvalidObjectName'],
      [`/demo/${'k'.repeat(1025)}`, 'KeyTooLongError'],
      ['/demo/%E0%A4%A', 'InvalidURI'],
    ]) {
      const res = await raw(path!, { method: 'PUT', body: 'x' });
      expect(res.status, path).toBe(400);
      expect(res.text, path).toContain(`<Code>${code}</Code>`);
    }
    const listing = await env.upstream().send(new ListObjectsV2Command({ Bucket: env.ds('demo').bucket, Prefix: 'x' }));
    expect(listing.KeyCount).toBe(0);
  });

  it('never shows the upstream secret or bucket in any answer', async () => {
    const f = folder();
    await c.send(new PutObjectCommand({ Bucket: 'demo', Key: `${f}/s`, Body: 's' }));
    const answers = [
      await raw(`/demo?list-type=2&prefix=${f}/`),
      await raw('/demo?list-type=2&prefix=zzz-nothing'),
      await raw(`/demo/${f}/missing`),
      await raw('/'),
      await raw(`/demo/${f}/s`),
      await raw('/demo?uploads'),
    ];
    for (const a of answers) {
      const all = `${a.text}${JSON.stringify(a.headers)}`;
      // s3rver's only account: S3RVER / S3RVER, the datastores' credentials here.
      expect(all).not.toContain('S3RVER');
      expect(all).not.toContain(env.ds('demo').bucket);
    }
  });

  it('answers S3 unreachable with 503 ServiceUnavailable', async () => {
    env.s3.setFault({ drop: true });
    try {
      const err = await errorOf(c.send(new GetObjectCommand({ Bucket: 'demo', Key: 'x' })));
      expect(err.$metadata.httpStatusCode).toBe(503);
      expect(err.name).toBe('ServiceUnavailable');
    } finally {
      env.s3.setFault(undefined);
    }
  });

  it('counts requests by operation and errors by code', () => {
    const s = env.server.stats.snapshot();
    expect(s.requests.PutObject).toBeGreaterThan(0);
    expect(s.errors.NoSuchKey).toBeGreaterThan(0);
    expect(s.bytesIn).toBeGreaterThan(20 * 1024 * 1024);
    expect(s.bytesOut).toBeGreaterThan(20 * 1024 * 1024);
  });
});
