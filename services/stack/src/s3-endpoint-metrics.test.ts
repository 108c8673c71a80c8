import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExposition, valueOf } from './metrics-text.js';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';
import { endpointClient } from './s3-endpoint-testing.js';

const KEY = { accessKeyId: 'metrics-rw', secretAccessKey: 'metrics-rw-secret' };
let stack: TestStack;
let client: S3Client;

beforeAll(async () => {
  stack = await startTestStack({ config: { accessKeys: [{ ...KEY, buckets: ['*'], access: 'read-write' }] } });
  client = endpointClient(stack.gateways[0], KEY);
});
afterAll(async () => {
  client?.destroy();
  await stack?.cleanup();
});

async function samples() {
  const res = await fetchBytes(`${stack.gateway()}/metrics`, { signal: AbortSignal.timeout(5000) });
  return parseExposition(res.body.toString()).samples;
}

describe('metrics of the S3 endpoint', () => {
  it('counts requests by operation and result, the bytes it sent, and its requests to the real S3 by method and status', async () => {
    const before = await samples();
    const body = Buffer.from('a small object that is not a chunk\n');
    await client.send(new PutObjectCommand({ Bucket: 'demo', Key: 'notes/a.txt', Body: body }));
    const got = await client.send(new GetObjectCommand({ Bucket: 'demo', Key: 'notes/a.txt' }));
    expect(Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()).equals(body)).toBe(true);
    await expect(client.send(new GetObjectCommand({ Bucket: 'demo', Key: 'notes/missing.txt' }))).rejects.toThrow();
    const after = await samples();
    const delta = (name: string, labels: Record<string, string>) => valueOf(after, name, labels) - valueOf(before, name, labels);

    expect(delta('larder_s3_endpoint_requests_total', { operation: 'PutObject', result: 'ok' })).toBe(1);
    expect(delta('larder_s3_endpoint_requests_total', { operation: 'GetObject', result: 'ok' })).toBe(1);
    expect(delta('larder_s3_endpoint_requests_total', { operation: 'GetObject', result: 'error' })).toBe(1);
    expect(delta('larder_s3_endpoint_request_duration_seconds_count', { operation: 'GetObject' })).toBe(2);
    expect(delta('larder_gateway_served_bytes_total', { route: 's3' })).toBeGreaterThanOrEqual(body.length);
    expect(delta('larder_s3_upstream_requests_total', { method: 'PUT', status: '2xx' })).toBe(1);
    expect(delta('larder_s3_upstream_requests_total', { method: 'GET', status: '2xx' })).toBe(1);
    expect(delta('larder_s3_upstream_requests_total', { method: 'GET', status: '4xx' })).toBe(1);
    expect(delta('larder_s3_upstream_request_duration_seconds_count', { method: 'GET' })).toBe(2);
  });
});
