import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, startTestStack, type TestStack } from './test-stack.js';

// Debian's `prometheus` package; without it this file is skipped (say so in the output).
const prometheusBin = spawnSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' }).stdout.trim();
if (!prometheusBin) console.warn('prometheus.test.ts: no prometheus binary (apt-get install prometheus): skipped');

let stack: TestStack;
let prom: ChildProcess | undefined;
let promUrl = '';
let dir = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Poll `fn` until it returns a value, at most `ms`. */
async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** An instant query's result: each series' labels and value. */
async function query(q: string): Promise<{ metric: Record<string, string>; value: number }[]> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  if (body.status !== 'success') throw new Error(`query ${q}: ${JSON.stringify(body)}`);
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

describe.skipIf(!prometheusBin)('a real Prometheus scraping the stack', () => {
  beforeAll(async () => {
    stack = await startTestStack();
    dir = await mkdtemp(path.join(os.tmpdir(), 'larder-prom-'));
    const target = new URL(stack.gateway()).host;
    await writeFile(
      path.join(dir, 'prometheus.yml'),
      `global: { scrape_interval: 1s, evaluation_interval: 1s }\nscrape_configs:\n  - job_name: larder\n    metrics_path: /metrics\n    static_configs: [{ targets: ['${target}'] }]\n`,
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prom = spawn(prometheusBin, [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], {
      stdio: 'ignore',
    });
    await until('Prometheus ready', 30_000, async () => ((await fetch(`${promUrl}/-/ready`, { signal: AbortSignal.timeout(2000) })).ok ? true : undefined));
    await until('the stack scraped', 30_000, async () => ((await query('up{job="larder"}'))[0]?.value === 1 ? true : undefined));
  }, 90_000);

  afterAll(async () => {
    if (prom?.pid) process.kill(prom.pid, 'SIGTERM');
    await stack?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the series exist, labelled with the service, and move when cold chunks are read', async () => {
    // Before any read: process metrics, the gauges, and the request counters at 0.
    expect((await query('process_cpu_seconds_total{job="larder"}'))[0]?.metric.service).toBe('stack');
    expect((await query('larder_cache_capacity_bytes'))[0]?.value).toBe(2 ** 30);
    expect((await query('larder_gateway_requests_total{route="chunk",result="miss"}'))[0]?.value).toBe(0);

    const chunks = await Promise.all([1, 2, 3].map(() => stack.putChunk('demo', randomBytes(30_000))));
    for (const { digest } of chunks) expect((await fetchBytes(`${stack.gateway()}/v1/stores/demo/chunks/${digest}`)).status).toBe(200);
    const first = chunks[0] as { digest: string; bytes: Buffer };
    // What the gateway served: each chunk blob as stored, the first one twice.
    const served = chunks.reduce((n, c) => n + c.bytes.length, first.bytes.length);
    expect((await fetchBytes(`${stack.gateway()}/v1/stores/demo/chunks/${first.digest}`)).status).toBe(200);

    const value = async (q: string) => (await query(q))[0]?.value;
    await until('the read scraped', 15_000, async () => ((await value('larder_gateway_requests_total{route="chunk",result="miss"}')) === 3 ? true : undefined));
    expect(await value('larder_gateway_requests_total{route="chunk",result="hit"}')).toBe(1);
    expect(await value('larder_s3_requests_total{operation="GetObject",status="ok"}')).toBe(3);
    expect(await value('larder_s3_received_bytes_total')).toBeGreaterThan(90_000);
    expect(await value('larder_gateway_served_bytes_total{route="chunk"}')).toBe(served);
    expect(await value('larder_cache_chunks')).toBe(3);
    expect(await value('larder_gateway_request_duration_seconds_count{route="chunk",result="miss"}')).toBe(3);
    // The dashboard's kind of query answers: rates and percentiles over the read.
    expect(await value('increase(larder_gateway_requests_total{route="chunk",result="miss"}[1m])')).toBeGreaterThan(0);
    const p99 = await value('histogram_quantile(0.99, sum by (le) (rate(larder_gateway_request_duration_seconds_bucket{result="miss"}[1m])))');
    expect(p99).toBeGreaterThan(0);
  }, 60_000);

  it('every query of the Grafana dashboard is valid PromQL and answers (Grafana variables filled in)', async () => {
    const file = new URL('../../../infra/grafana/larder-dashboard.json', import.meta.url);
    const dashboard = JSON.parse(await readFile(file, 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThan(10);
    const failed: string[] = [];
    for (const { panel, expr } of exprs) {
      const q = expr.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '5m').replaceAll('$price_per_1k_gets', '0.0004');
      await query(q).catch((err: Error) => failed.push(`${panel}: ${err.message}`));
    }
    expect(failed).toEqual([]);
    // The cost estimate counts the GETs above: 3 at $0.0004 per 1,000.
    const cost = exprs.find((e) => e.panel.startsWith('Estimated S3 GET cost in'))?.expr ?? '';
    expect((await query(cost.replaceAll('$__range', '5m').replaceAll('$price_per_1k_gets', '0.0004')))[0]?.value).toBeGreaterThan(0);
  });
});
