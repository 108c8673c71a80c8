import { randomBytes } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, initTelemetry, shutdownTelemetry } from '@larder/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';

const exporter = new InMemorySpanExporter();
let stack: TestStack;
beforeAll(async () => {
  initTelemetry({ serviceName: 'larder-test', exporter });
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.cleanup();
  await shutdownTelemetry();
});

describe('tracing', () => {
  it('a miss is one trace covering the gateway, the NATS request, and the fetcher S3 GET and write', async () => {
    const { digest } = await stack.putChunk('demo', randomBytes(10_000));
    exporter.reset();
    const res = await fetchBytes(`${stack.gateway()}/v1/stores/demo/chunks/${digest}`);
    expect(res.status).toBe(200);
    // The server span ends just after the response is sent: wait for it.
    for (let i = 0; i < 50 && !exporter.getFinishedSpans().some((s) => s.name === 'gateway GET'); i++) await new Promise((r) => setTimeout(r, 20));
    const spans = exporter.getFinishedSpans();
    const byName = (n: string) => spans.find((s) => s.name === n);
    const root = byName('gateway GET');
    expect(root?.kind).toBe(SpanKind.SERVER);
    const traceId = root?.spanContext().traceId;
    for (const name of ['nats request chunk.fetch', 'chunk-fetcher fetch', 's3.get', 'chunk.verify', 'volume.write']) {
      expect(byName(name)?.spanContext().traceId, name).toBe(traceId);
    }
    // The fetcher's server span is a child of the gateway's NATS client span: the context crossed NATS in headers.
    expect(byName('chunk-fetcher fetch')?.parentSpanContext?.spanId).toBe(byName('nats request chunk.fetch')?.spanContext().spanId);
  });
});
