import { randomBytes } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';
import { endpointClient } from './s3-endpoint-testing.js';

const KEY = { accessKeyId: 'cost-rw', secretAccessKey: 'cost-rw-secret' };
let stack: TestStack;
let client: S3Client;

beforeAll(async () => {
  stack = await startTestStack({ fetchers: 2, config: { accessKeys: [{ ...KEY, buckets: ['*'], access: 'read-write' }], prices: { egressPerGiB: 0.09, currency: 'USD' } } });
  client = endpointClient(stack.gateways[0], KEY);
});

afterAll(async () => {
  client?.destroy();
  await stack?.cleanup();
});

interface Status {
  hits: number;
  hitBytes: number;
  s3Cost: {
    currency: string;
    datastores: Record<string, { operations: Record<string, { requests: number; bytes: number }>; requests: number; cost: number }>;
    cost: { requests: number; egress: number; total: number };
    saved: { hits: number; hitBytes: number; total: number };
  };
}

async function status(): Promise<Status> {
  const res = await fetch(`${stack.gateway()}/v1/status`, { signal: AbortSignal.timeout(10_000) });
  return (await res.json()) as Status;
}

describe('S3 cost in /v1/status and larder status', () => {
  it('counts a cold read per datastore and operation, prices it, and counts what a hit saved', async () => {
    const { digest, bytes } = await stack.putChunk('demo', randomBytes(200_000));
    const url = `${stack.gateway()}/v1/stores/demo/chunks/${digest}`;
    expect((await fetchBytes(url)).headers.get('x-larder-cache')).toBe('miss');
    expect((await fetchBytes(url)).headers.get('x-larder-cache')).toBe('hit');

    const s = await status();
    // The fetcher's GET, counted in the same stats write as its admission.
    expect(s.s3Cost.datastores.demo?.operations.get).toEqual({ requests: 1, bytes: bytes.length });
    expect(s.s3Cost.currency).toBe('USD');
    const egress = (bytes.length / 2 ** 30) * 0.09;
    expect(s.s3Cost.cost.requests).toBeCloseTo(0.0004 / 1000, 9);
    expect(s.s3Cost.cost.egress).toBeCloseTo(egress, 6);
    expect(s.hits).toBe(1);
    expect(s.hitBytes).toBeGreaterThanOrEqual(bytes.length);
    expect(s.s3Cost.saved.total).toBeGreaterThan(0);

    const cli = await stack.cli(['status']);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/S3 demo\s+GET 1 \(.+\): ~/);
    expect(cli.stdout).toMatch(/S3 cost\s+~\S+ USD/);
    expect(cli.stdout).toMatch(/cache saved\s+~\S+ USD \(1 hits/);
  });

  it("counts the S3 endpoint's pass-through requests per datastore: PUT, GET, LIST", async () => {
    const key = `notes/${randomBytes(4).toString('hex')}.txt`;
    const body = randomBytes(3000);
    await client.send(new PutObjectCommand({ Bucket: 'demo', Key: key, Body: body }));
    const got = await client.send(new GetObjectCommand({ Bucket: 'demo', Key: key }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    await client.send(new ListObjectsV2Command({ Bucket: 'demo', Prefix: 'notes/' }));

    const ops = (await status()).s3Cost.datastores.demo?.operations ?? {};
    expect(ops.put).toEqual({ requests: 1, bytes: body.length });
    expect(ops.list?.requests).toBe(1);
    // The chunk fetch of the first test and this object's GET.
    expect(ops.get).toMatchObject({ requests: 2 });
    expect(ops.get?.bytes).toBeGreaterThanOrEqual(200_000 + body.length);
    const json = JSON.parse((await stack.cli(['status', '--json'])).stdout) as Status;
    expect(json.s3Cost.datastores.demo?.operations.put?.requests).toBe(1);
  });
});
