import { afterAll, describe, expect, it } from 'vitest';
import { Counter } from 'prom-client';
import { initMetrics, registry, serveMetrics, type MetricsServer } from './index.js';

let server: MetricsServer | undefined;
afterAll(() => server?.stop());

describe('serveMetrics (a process without an HTTP port of its own)', () => {
  it('answers GET /metrics with the registry, the service label on each series, and 404 elsewhere', async () => {
    initMetrics('serve-test');
    const c = new Counter({ name: 'larder_test_things_total', help: 'test', registers: [registry] });
    c.inc(3);
    server = await serveMetrics('127.0.0.1', 0);
    const res = await fetch(server.url, { signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('# TYPE larder_test_things_total counter');
    expect(text).toContain('larder_test_things_total{service="serve-test"} 3');
    expect(text).toMatch(/^process_cpu_seconds_total\{service="serve-test"\} /m);
    const other = await fetch(server.url.replace('/metrics', '/other'), { signal: AbortSignal.timeout(5000) });
    expect(other.status).toBe(404);
    await other.text();
  });

  it('refuses a port already taken with a clear error', async () => {
    const port = Number(new URL((server as MetricsServer).url).port);
    await expect(serveMetrics('127.0.0.1', port)).rejects.toThrow(/cannot serve metrics on 127\.0\.0\.1:\d+/);
  });
});
