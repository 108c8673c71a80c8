import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getObjectBytes, s3ClientFor } from '@larder/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';

const KEY = { accessKeyId: 'stack-rw', secretAccessKey: 'stack-rw-secret' };
let stack: TestStack;
let s3Url: string;
const clients: S3Client[] = [];

beforeAll(async () => {
  stack = await startTestStack({ config: { accessKeys: [{ ...KEY, buckets: ['*'], access: 'read-write' }] } });
  s3Url = stack.gateways[0]?.s3Url ?? '';
});

afterAll(async () => {
  clients.forEach((c) => c.destroy());
  await stack?.cleanup();
});

function client(creds = KEY): S3Client {
  const c = new S3Client({
    endpoint: s3Url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: creds,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  clients.push(c);
  return c;
}

/** The real AWS CLI against the endpoint, with nothing of this machine's AWS configuration. */
function aws(args: string[], creds = KEY): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'aws',
      ['--endpoint-url', s3Url, ...args],
      {
        timeout: 60_000,
        env: {
          PATH: process.env.PATH,
          HOME: stack.dir,
          AWS_ACCESS_KEY_ID: creds.accessKeyId,
          AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
          AWS_DEFAULT_REGION: 'us-east-1',
          AWS_EC2_METADATA_DISABLED: 'true',
          AWS_CONFIG_FILE: '/dev/null',
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        },
      },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('the gateway S3 endpoint in a stack', () => {
  it('serves signed SDK requests and writes under the datastore in its bucket; counts them in /v1/status', async () => {
    expect(s3Url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const key = `sdk-${randomBytes(4).toString('hex')}/obj`;
    const body = randomBytes(70_000);
    await client().send(new PutObjectCommand({ Bucket: 'demo', Key: key, Body: body }));
    const ds = stack.ds('demo');
    expect((await getObjectBytes(s3ClientFor(ds), ds.bucket, key)).equals(body)).toBe(true);
    const got = await client().send(new GetObjectCommand({ Bucket: 'demo', Key: key }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    const status = JSON.parse((await fetchBytes(`${stack.gateway()}/v1/status`)).body.toString()) as { s3Endpoint: { requests: Record<string, number> } };
    expect(status.s3Endpoint.requests.PutObject).toBeGreaterThanOrEqual(1);
    expect(status.s3Endpoint.requests.GetObject).toBeGreaterThanOrEqual(1);
  });

  it('refuses a wrong secret (SignatureDoesNotMatch) and writes nothing', async () => {
    const key = `bad-${randomBytes(4).toString('hex')}`;
    await expect(client({ ...KEY, secretAccessKey: 'not-the-secret' }).send(new PutObjectCommand({ Bucket: 'demo', Key: key, Body: 'x' }))).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
    });
    const listed = await client().send(new ListObjectsV2Command({ Bucket: 'demo', Prefix: key }));
    expect(listed.KeyCount).toBe(0);
  });

  it('works with the AWS CLI: s3 cp, ls, s3api get-object --range, rm', async () => {
    const dir = `cli-${randomBytes(4).toString('hex')}`;
    const file = path.join(stack.dir, 'upload.bin');
    const body = randomBytes(3 * 1024 * 1024 + 17);
    await writeFile(file, body);
    const cp = await aws(['s3', 'cp', file, `s3://demo/${dir}/upload.bin`]);
    expect(cp.code, cp.stderr).toBe(0);
    const ls = await aws(['s3', 'ls', `s3://demo/${dir}/`]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toContain(`${body.length} upload.bin`);
    const out = path.join(stack.dir, 'range.bin');
    const get = await aws(['s3api', 'get-object', '--bucket', 'demo', '--key', `${dir}/upload.bin`, '--range', 'bytes=100-1099', out]);
    expect(get.code, get.stderr).toBe(0);
    expect((await readFile(out)).equals(body.subarray(100, 1100))).toBe(true);
    const back = path.join(stack.dir, 'back.bin');
    const cpBack = await aws(['s3', 'cp', `s3://demo/${dir}/upload.bin`, back]);
    expect(cpBack.code, cpBack.stderr).toBe(0);
    expect((await readFile(back)).equals(body)).toBe(true);
    const rm = await aws(['s3', 'rm', `s3://demo/${dir}/upload.bin`]);
    expect(rm.code, rm.stderr).toBe(0);
    expect((await aws(['s3', 'ls', `s3://demo/${dir}/`])).stdout).toBe('');
    const wrong = await aws(['s3', 'ls', 's3://demo/'], { ...KEY, secretAccessKey: 'wrong-secret' });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/SignatureDoesNotMatch/);
  });
});
