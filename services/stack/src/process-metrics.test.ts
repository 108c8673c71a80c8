import { randomBytes } from 'node:crypto';
import { encodeChunk } from '@larder/formats';
import { chunkObjectKey, putObjectBytes, s3ClientFor } from '@larder/s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExposition, valueOf } from './metrics-text.js';
import { freePort, startProcessStack, until, type ProcessStack } from './test-processes.js';

// Each service as its own process (dist/main.js): each serves its own /metrics, labelled with its service.
let stack: ProcessStack;
const ports = { fetcher: 0, index: 0, config: 0 };
beforeAll(async () => {
  ports.fetcher = await freePort();
  ports.index = await freePort();
  ports.config = await freePort();
  stack = await startProcessStack({
    config: { metrics: { fetcherListen: `127.0.0.1:${ports.fetcher}`, indexListen: `127.0.0.1:${ports.index}`, configListen: `127.0.0.1:${ports.config}` } },
  });
}, 90_000);
afterAll(() => stack?.cleanup());

async function scrape(url: string) {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  expect(res.status).toBe(200);
  return parseExposition(await res.text()).samples;
}

describe('/metrics of a node run as separate processes', () => {
  it('each process serves its own series with its service label, and a cold read moves the gateway’s, the fetcher’s and the index’s', async () => {
    const d = stack.ds('demo');
    const { digest, bytes } = encodeChunk(d.layout, randomBytes(20_000), d.digest);
    await putObjectBytes(s3ClientFor(d), d.bucket, chunkObjectKey(d, digest), bytes);
    const res = await fetch(`${stack.gatewayUrl}/v1/stores/demo/chunks/${digest}`, { signal: AbortSignal.timeout(15_000) });
    expect(res.status).toBe(200);
    await res.arrayBuffer();

    const gateway = await scrape(`${stack.gatewayUrl}/metrics`);
    expect(new Set(gateway.map((s) => s.labels.service))).toEqual(new Set(['gateway']));
    expect(valueOf(gateway, 'larder_gateway_requests_total', { route: 'chunk', result: 'miss' })).toBe(1);
    expect(valueOf(gateway, 'larder_gateway_served_bytes_total', { route: 'chunk' })).toBe(bytes.length);
    // Its config comes from the config-service: a generation, not the 0 of a fixed config.
    expect(valueOf(gateway, 'larder_config_generation')).toBeGreaterThanOrEqual(1);

    const fetcher = await scrape(`http://127.0.0.1:${ports.fetcher}/metrics`);
    expect(new Set(fetcher.map((s) => s.labels.service))).toEqual(new Set(['chunk-fetcher']));
    expect(valueOf(fetcher, 'larder_s3_requests_total', { operation: 'GetObject', status: 'ok' })).toBe(1);
    expect(valueOf(fetcher, 'larder_s3_received_bytes_total')).toBe(bytes.length);
    expect(valueOf(fetcher, 'larder_fetcher_slots')).toBe(stack.config.fetcher.concurrency);

    // The index's gauges are read from Redis at scrape time: the admission shows at once.
    await until('the index counts the chunk', async () => valueOf(await scrape(`http://127.0.0.1:${ports.index}/metrics`), 'larder_cache_chunks') === 1, 10_000);
    const index = await scrape(`http://127.0.0.1:${ports.index}/metrics`);
    expect(new Set(index.map((s) => s.labels.service))).toEqual(new Set(['cache-index']));
    expect(valueOf(index, 'larder_cache_used_bytes')).toBeGreaterThan(0);

    const config = await scrape(`http://127.0.0.1:${ports.config}/metrics`);
    expect(new Set(config.map((s) => s.labels.service))).toEqual(new Set(['config-service']));
    expect(valueOf(config, 'process_cpu_seconds_total')).toBeGreaterThan(0);
  }, 60_000);
});
