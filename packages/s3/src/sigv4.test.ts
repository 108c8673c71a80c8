import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedS3, type EmbeddedS3 } from '@larder/s3-server';
import { destroyS3Clients, s3ClientFor } from './client.js';
import { ensureBucket } from './buckets.js';
import { putObjectBytes } from './objects.js';
import { destroyObjectGetters, objectGetterFor } from './object-getter.js';
import { amzDate, canonicalRequest, EMPTY_SHA256, encodeKey, objectTarget, parseEndpoint, SigV4Signer } from './sigv4.js';

const EXAMPLE = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const ODD_KEYS = ['a b+c/ü€.txt', "dir/sub dir/x+y=z&q?#'(1)*!.bin", '日本語/キー', '~tilde_-.', 'pct%20literal', 'emoji 😀'];

let s3: EmbeddedS3;
let dir: string;
let buckets = 0;
const conn = () => ({ endpoint: s3.endpoint, region: 'us-east-1', pathStyle: true, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'larder-sigv4-'));
  s3 = await startEmbeddedS3({ directory: dir });
});

afterAll(async () => {
  destroyObjectGetters();
  destroyS3Clients();
  await s3.stop();
  await rm(dir, { recursive: true, force: true });
});

async function newBucket(client: S3Client): Promise<string> {
  const bucket = `sigv4-${process.pid}-${++buckets}`;
  await ensureBucket(client, bucket);
  return bucket;
}

interface Signed {
  path: string;
  query: string;
  headers: Record<string, string>;
}

/** Path, query and headers of a GetObject as the AWS SDK signs it; `send` false stops it before the network. */
async function sdkSigned(client: S3Client, bucket: string, key: string, send: boolean): Promise<Signed> {
  let seen: Signed | undefined;
  const stop = new Error('captured');
  const capture = (next: (a: unknown) => Promise<unknown>) => async (args: { request: Signed & { query: Record<string, string> } }) => {
    // The SDK adds `?x-id=GetObject`: the canonical query string of its request.
    const query = Object.entries(args.request.query)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
      .sort()
      .join('&');
    seen = { path: args.request.path, query, headers: { ...args.request.headers } };
    if (!send) throw stop;
    return next(args);
  };
  const stack = client.middlewareStack.clone();
  stack.addRelativeTo(capture as never, { relation: 'after', toMiddleware: 'httpSigningMiddleware', name: 'captureSigned' });
  const cmd = new GetObjectCommand({ Bucket: bucket, Key: key });
  const handler = cmd.resolveMiddleware(stack, client.config, {});
  await handler({ input: cmd.input }).catch((err: unknown) => {
    if (err !== stop) throw err;
  });
  return seen!;
}

/** Re-sign what the SDK signed, with its date, payload hash and extra signed headers, and return both signatures. */
function resign(creds: typeof EXAMPLE, region: string, { path, query, headers }: Signed): { ours: string; sdk: string } {
  const names = /SignedHeaders=([^,]+)/.exec(headers.authorization ?? '')![1]!.split(';');
  const extra = Object.fromEntries(names.filter((n) => !['host', 'x-amz-date', 'x-amz-content-sha256'].includes(n)).map((n) => [n, headers[n]!]));
  const d = headers['x-amz-date']!;
  const date = new Date(`${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${d.slice(9, 11)}:${d.slice(11, 13)}:${d.slice(13, 15)}Z`);
  const signed = new SigV4Signer(creds, region).sign({ method: 'GET', host: headers.host!, path, query, headers: extra, payloadHash: headers['x-amz-content-sha256']!, date });
  const sig = (auth: string | undefined) => /Signature=([0-9a-f]{64})/.exec(auth ?? '')?.[1];
  return { ours: sig(signed.authorization)!, sdk: sig(headers.authorization)! };
}

describe('SigV4Signer', () => {
  it('reproduces the AWS documentation example (GET Object, examplebucket/test.txt, Range bytes=0-9)', () => {
    const signer = new SigV4Signer(EXAMPLE, 'us-east-1');
    const headers = signer.sign({
      method: 'GET',
      host: 'examplebucket.s3.amazonaws.com',
      path: '/test.txt',
      headers: { range: 'bytes=0-9' },
      payloadHash: EMPTY_SHA256,
      date: new Date('2013-05-24T00:00:00Z'),
    });
    expect(headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,' +
        'SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,' +
        'Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
    expect(headers['x-amz-date']).toBe('20130524T000000Z');
    const { authorization: _, ...signedHeaders } = headers;
    const { text, signed } = canonicalRequest({ method: 'GET', host: '', path: '/test.txt' }, signedHeaders, EMPTY_SHA256);
    expect(signed).toBe('host;range;x-amz-content-sha256;x-amz-date');
    // The documented hash of the canonical request (the last line of its string to sign).
    expect(createHash('sha256').update(text).digest('hex')).toBe('7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972');
  });

  it('signs UNSIGNED-PAYLOAD by default and formats x-amz-date', () => {
    const h = new SigV4Signer(EXAMPLE, 'eu-west-1').sign({ method: 'HEAD', host: 'h', path: '/b/k' });
    expect(h['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
    expect(h['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    expect(amzDate(new Date('2024-02-29T23:59:58.123Z'))).toBe('20240229T235958Z');
    expect(h.authorization).toContain('/eu-west-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,');
  });

  it('caches the signing key per day without mixing days up', () => {
    const cached = new SigV4Signer(EXAMPLE, 'us-east-1');
    const req = (day: string) => ({ method: 'GET', host: 'h', path: '/b/k', date: new Date(`${day}T12:00:00Z`) });
    const days = ['2024-01-01', '2024-01-02', '2024-01-01', '2024-01-03', '2024-01-04', '2024-01-05', '2024-01-02'];
    for (const day of days) expect(cached.sign(req(day)).authorization).toBe(new SigV4Signer(EXAMPLE, 'us-east-1').sign(req(day)).authorization);
    expect(cached.sign(req('2024-01-01')).authorization).not.toBe(cached.sign(req('2024-01-02')).authorization);
  });

  it('encodes keys per RFC 3986 segment by segment, keeping slashes', () => {
    expect(encodeKey('.chunks/0a1b/0a1b2c')).toBe('.chunks/0a1b/0a1b2c');
    expect(encodeKey('a b+c/ü€.txt')).toBe('a%20b%2Bc/%C3%BC%E2%82%AC.txt');
    expect(encodeKey("x=y&z?#'(1)*!~")).toBe('x%3Dy%26z%3F%23%27%281%29%2A%21~');
  });

  it('addresses objects path-style or virtual-hosted', () => {
    const aws = parseEndpoint('https://s3.eu-west-1.amazonaws.com');
    expect(objectTarget(aws, 'my-bucket', 'a b/c', false)).toEqual({ host: 'my-bucket.s3.eu-west-1.amazonaws.com', path: '/a%20b/c' });
    expect(objectTarget(aws, 'my-bucket', 'a b/c', true)).toEqual({ host: 's3.eu-west-1.amazonaws.com', path: '/my-bucket/a%20b/c' });
    expect(objectTarget(aws, 'dotted.bucket', 'k', false)).toEqual({ host: 's3.eu-west-1.amazonaws.com', path: '/dotted.bucket/k' });
    const local = parseEndpoint('http://127.0.0.1:9000/base/');
    expect(objectTarget(local, 'my-bucket', 'k', false)).toEqual({ host: '127.0.0.1:9000', path: '/base/my-bucket/k' });
    expect(parseEndpoint('http://[::1]:80').hostname).toBe('::1');
  });

  it('agrees with the AWS SDK signer on GETs it sends to s3rver, for keys needing encoding', async () => {
    const client = s3ClientFor(conn());
    const bucket = await newBucket(client);
    for (const key of ODD_KEYS) {
      await putObjectBytes(client, bucket, key, Buffer.from(key));
      const signed = await sdkSigned(client, bucket, key, true);
      expect(signed.path).toBe(`/${bucket}/${encodeKey(key)}`);
      const { ours, sdk } = resign({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, 'us-east-1', signed);
      expect(ours, key).toBe(sdk);
    }
  });

  it('agrees with the AWS SDK signer for virtual-hosted addressing', async () => {
    const creds = EXAMPLE;
    const client = s3ClientFor({ endpoint: 'https://s3.eu-central-1.amazonaws.com', region: 'eu-central-1', pathStyle: false, ...creds });
    for (const key of ODD_KEYS) {
      const signed = await sdkSigned(client, 'examplebucket', key, false);
      const target = objectTarget(parseEndpoint('https://s3.eu-central-1.amazonaws.com'), 'examplebucket', key, false);
      expect({ host: signed.headers.host, path: signed.path }).toEqual(target);
      const { ours, sdk } = resign(creds, 'eu-central-1', signed);
      expect(ours, key).toBe(sdk);
    }
  });

  it('is accepted by s3rver, which refuses an unknown access key', async () => {
    const bucket = await newBucket(s3ClientFor(conn()));
    await putObjectBytes(s3ClientFor(conn()), bucket, 'k', Buffer.from('hi'));
    expect((await objectGetterFor(conn()).get(bucket, 'k')).toString()).toBe('hi');
    await expect(objectGetterFor({ ...conn(), accessKeyId: 'NOT-A-KEY' }).get(bucket, 'k')).rejects.toMatchObject({ name: 'S3Error', kind: 'denied' });
  });
});
