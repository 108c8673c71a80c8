import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { importRawImage } from '@larder/datastore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';
import { parseExposition, valueOf } from './metrics-text.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(() => stack?.cleanup());

async function scrape() {
  const res = await fetchBytes(`${stack.gateway()}/metrics`, { signal: AbortSignal.timeout(5000) });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(res.body.toString());
}

describe('/metrics on the gateway (the stack: every service in one process)', () => {
  it('names every series with its type, the service label and the process metrics', async () => {
    const { samples, types } = await scrape();
    expect(Object.fromEntries([...types].filter(([n]) => n.startsWith('larder_')))).toMatchObject({
      larder_gateway_requests_total: 'counter',
      larder_gateway_served_bytes_total: 'counter',
      larder_gateway_request_duration_seconds: 'histogram',
      larder_s3_requests_total: 'counter',
      larder_s3_request_duration_seconds: 'histogram',
      larder_s3_received_bytes_total: 'counter',
      larder_fetcher_verification_failures_total: 'counter',
      larder_fetcher_retries_total: 'counter',
      larder_fetcher_queue_depth: 'gauge',
      larder_fetcher_in_flight: 'gauge',
      larder_fetcher_slots: 'gauge',
      larder_cache_evictions_total: 'counter',
      larder_cache_evicted_bytes_total: 'counter',
      larder_cache_capacity_bytes: 'gauge',
      larder_cache_used_bytes: 'gauge',
      larder_cache_chunks: 'gauge',
      larder_decoded_cache_bytes: 'gauge',
      larder_decoded_spill_bytes: 'gauge',
      larder_decoded_spill_budget_bytes: 'gauge',
      larder_decoded_spill_chunks: 'gauge',
      larder_decoded_spill_corrupt_total: 'counter',
      larder_decoded_spill_failed_writes_total: 'counter',
      larder_open_chunk_files: 'gauge',
      larder_config_generation: 'gauge',
      larder_s3_endpoint_requests_total: 'counter',
    });
    expect(types.get('process_cpu_seconds_total')).toBe('counter');
    expect(types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
    expect(samples.every((s) => s.labels.service === 'stack')).toBe(true);
    expect(valueOf(samples, 'larder_cache_capacity_bytes')).toBe(2 ** 30);
    expect(valueOf(samples, 'larder_fetcher_slots')).toBe(stack.config.fetcher.concurrency);
  });

  it('counts a cold read (miss, S3 GET, bytes from S3) and a warm one (hit), with their bytes and latency', async () => {
    const before = (await scrape()).samples;
    const { digest, bytes } = await stack.putChunk('demo', randomBytes(40_000));
    const url = `${stack.gateway()}/v1/stores/demo/chunks/${digest}`;
    expect((await fetchBytes(url)).body.equals(bytes)).toBe(true);
    expect((await fetchBytes(url)).body.equals(bytes)).toBe(true);
    expect((await fetchBytes(`${stack.gateway()}/v1/stores/demo/chunks/${'0'.repeat(64)}`)).status).toBe(404);
    const after = (await scrape()).samples;
    const delta = (name: string, labels: Record<string, string> = {}) => valueOf(after, name, labels) - valueOf(before, name, labels);

    expect(delta('larder_gateway_requests_total', { route: 'chunk', result: 'miss' })).toBe(1);
    expect(delta('larder_gateway_requests_total', { route: 'chunk', result: 'hit' })).toBe(1);
    expect(delta('larder_gateway_requests_total', { route: 'chunk', result: 'error' })).toBe(1);
    expect(delta('larder_gateway_served_bytes_total', { route: 'chunk' })).toBe(2 * bytes.length);
    expect(delta('larder_gateway_request_duration_seconds_count', { route: 'chunk', result: 'miss' })).toBe(1);
    expect(delta('larder_gateway_request_duration_seconds_bucket', { route: 'chunk', result: 'hit', le: '+Inf' })).toBe(1);
    // One GET of the stored chunk and one 404 of the missing one.
    expect(delta('larder_s3_requests_total', { operation: 'GetObject', status: 'ok' })).toBe(1);
    expect(delta('larder_s3_requests_total', { operation: 'GetObject', status: 'not_found' })).toBe(1);
    expect(delta('larder_s3_request_duration_seconds_count', { operation: 'GetObject' })).toBe(2);
    expect(delta('larder_s3_received_bytes_total')).toBeGreaterThan(0);
    // Gauges read from this stack's Redis index at scrape time.
    expect(valueOf(after, 'larder_cache_chunks')).toBe(1);
    expect(valueOf(after, 'larder_cache_used_bytes')).toBeGreaterThan(0);
  });

  it('counts image reads over HTTP and over NBD (route image and nbd: requests, bytes, latency)', async () => {
    const image = randomBytes(6 * 2 ** 20 + 1234);
    const raw = path.join(stack.dir, 'metrics.raw');
    await writeFile(raw, image);
    await importRawImage({ ds: stack.ds('demo'), file: raw, name: 'metrics.img' });
    const before = (await scrape()).samples;
    const http = await fetchBytes(`${stack.gateway()}/v1/stores/demo/images/metrics.img.fidx`, { signal: AbortSignal.timeout(30_000) });
    expect(http.body.equals(image)).toBe(true);
    const out = path.join(stack.dir, 'metrics.nbd.out');
    await promisify(execFile)('nbdcopy', [`nbd://127.0.0.1:${stack.gateways[0]?.nbdPort}/demo/metrics.img.fidx`, out], { timeout: 30_000 });
    expect((await readFile(out)).subarray(0, image.length).equals(image)).toBe(true);
    const after = (await scrape()).samples;
    const delta = (name: string, labels: Record<string, string> = {}) => valueOf(after, name, labels) - valueOf(before, name, labels);

    expect(delta('larder_gateway_requests_total', { route: 'image', result: 'ok' })).toBe(1);
    expect(delta('larder_gateway_served_bytes_total', { route: 'image' })).toBe(image.length);
    // NBD: one series entry per read request of the client; together they cover the image.
    expect(delta('larder_gateway_requests_total', { route: 'nbd', result: 'ok' })).toBeGreaterThan(0);
    expect(delta('larder_gateway_served_bytes_total', { route: 'nbd' })).toBeGreaterThanOrEqual(image.length);
    expect(delta('larder_gateway_request_duration_seconds_count', { route: 'nbd', result: 'ok' })).toBe(delta('larder_gateway_requests_total', { route: 'nbd', result: 'ok' }));
    expect(delta('larder_gateway_requests_total', { route: 'nbd', result: 'error' })).toBe(0);
  }, 60_000);

  it('counts verification failures of bodies from S3, retried GETs and failed reads', async () => {
    const before = (await scrape()).samples;
    const corrupt = await stack.putChunk('demo', randomBytes(10_000));
    stack.s3?.setFault({ corrupt: { times: 1, key: corrupt.digest } });
    expect((await fetchBytes(`${stack.gateway()}/v1/stores/demo/chunks/${corrupt.digest}`)).body.equals(corrupt.bytes)).toBe(true);
    const failing = await stack.putChunk('demo', randomBytes(10_000));
    stack.s3?.setFault({ status: 503 });
    try {
      expect((await fetchBytes(`${stack.gateway()}/v1/stores/demo/chunks/${failing.digest}`, { signal: AbortSignal.timeout(15_000) })).status).toBeGreaterThanOrEqual(500);
    } finally {
      stack.s3?.setFault(undefined);
    }
    const after = (await scrape()).samples;
    const delta = (name: string, labels: Record<string, string> = {}) => valueOf(after, name, labels) - valueOf(before, name, labels);

    expect(delta('larder_fetcher_verification_failures_total')).toBe(1);
    // The corrupt body and its fetch again, both answered ok by S3.
    expect(delta('larder_s3_requests_total', { operation: 'GetObject', status: 'ok' })).toBe(2);
    // fetcher.retries is 2: three failed attempts, two of them retries.
    expect(delta('larder_s3_requests_total', { operation: 'GetObject', status: 'error' })).toBe(3);
    expect(delta('larder_fetcher_retries_total')).toBe(2);
    expect(delta('larder_gateway_requests_total', { route: 'chunk', result: 'miss' })).toBe(1);
    expect(delta('larder_gateway_requests_total', { route: 'chunk', result: 'error' })).toBe(1);
  }, 60_000);
});
