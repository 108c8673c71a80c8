import { Counter, Gauge, Histogram } from 'prom-client';
import { registry } from './registry.js';
import { SummedGauge } from './summed-gauge.js';

const registers = [registry];
/** Latency buckets from a page-cache hit (sub-millisecond) to a slow S3 GET with retries. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

// Gateway: requests served.
const gatewayRequests = new Counter({
  name: 'larder_gateway_requests_total',
  help: 'Gateway requests by route and result (hit, miss, error; ok for non-chunk routes).',
  labelNames: ['route', 'result'],
  registers,
});
const gatewayBytes = new Counter({ name: 'larder_gateway_served_bytes_total', help: 'Bytes the gateway served, by route.', labelNames: ['route'], registers });
const gatewayLatency = new Histogram({
  name: 'larder_gateway_request_duration_seconds',
  help: 'Gateway request latency to the last byte, by route and result.',
  labelNames: ['route', 'result'],
  buckets: LATENCY_BUCKETS,
  registers,
});

/** Gateway routes with metrics. */
export type GatewayRoute = 'chunk' | 'casync' | 'image' | 'nbd' | 's3';
/** A request's result: a cache hit or miss (chunk reads), ok (other reads), or error. */
export type RequestResult = 'hit' | 'miss' | 'ok' | 'error';

/** The pre-labelled series of one route and result: recording a request allocates nothing. */
export interface RequestSeries {
  /** Count one request that took `seconds` and served `bytes`. */
  observe(seconds: number, bytes: number): void;
}

/** Run `fn` (a read of `bytes` bytes) and count it in `series`: ok with its bytes, or error, with its latency. */
export async function timedRead<T>(series: Record<RequestResult, RequestSeries>, bytes: number, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    const v = await fn();
    series.ok.observe((performance.now() - t0) / 1000, bytes);
    return v;
  } catch (err) {
    series.error.observe((performance.now() - t0) / 1000, 0);
    throw err;
  }
}

/**
 * The series of one gateway route, one per result, created once and exported at 0 from the start: `rate()` and
 * `increase()` see the first request as an increase (a series that appears at 1 has no earlier sample to rise from).
 */
export function gatewayRouteSeries(route: GatewayRoute): Record<RequestResult, RequestSeries> {
  const bytes = gatewayBytes.labels(route);
  bytes.inc(0);
  const one = (result: RequestResult): RequestSeries => {
    const count = gatewayRequests.labels(route, result);
    const latency = gatewayLatency.labels(route, result);
    count.inc(0);
    gatewayLatency.zero({ route, result });
    return {
      observe(seconds, n) {
        count.inc();
        latency.observe(seconds);
        if (n > 0) bytes.inc(n);
      },
    };
  };
  return { hit: one('hit'), miss: one('miss'), ok: one('ok'), error: one('error') };
}

// Chunk-fetchers: S3 and the fetch queue.
const s3Requests = new Counter({
  name: 'larder_s3_requests_total',
  help: 'Requests to S3 (each billed) by operation and outcome status.',
  labelNames: ['operation', 'status'],
  registers,
});
const s3Latency = new Histogram({
  name: 'larder_s3_request_duration_seconds',
  help: 'Latency of S3 GETs of chunks by the fetchers, retries included, by operation.',
  labelNames: ['operation'],
  buckets: LATENCY_BUCKETS,
  registers,
});
/** Bytes received from S3 (chunk bodies). */
export const s3ReceivedBytes = new Counter({ name: 'larder_s3_received_bytes_total', help: 'Bytes of chunk bodies received from S3.', registers });
/** Chunk bodies from S3 that failed verification. */
export const verificationFailures = new Counter({ name: 'larder_fetcher_verification_failures_total', help: 'Chunk bodies from S3 that failed verification.', registers });
/** S3 GETs retried by the fetchers. */
export const fetcherRetries = new Counter({ name: 'larder_fetcher_retries_total', help: 'S3 GETs the fetchers retried after a failure.', registers });
/** Fetches waiting for a slot of the fetchers' semaphore. */
export const fetcherQueued = new SummedGauge('larder_fetcher_queue_depth', 'Fetches waiting for a slot at the chunk-fetchers.');
/** Fetches holding a slot. */
export const fetcherInFlight = new SummedGauge('larder_fetcher_in_flight', 'Fetches under way at the chunk-fetchers (semaphore slots in use).');
/** The fetchers' slot limit. */
export const fetcherSlots = new SummedGauge('larder_fetcher_slots', 'Semaphore slots of the chunk-fetchers (the in-flight limit).');

/** S3 request outcomes counted. */
export type S3Status = 'ok' | 'not_found' | 'denied' | 'timeout' | 'error';
const S3_STATUSES: readonly S3Status[] = ['ok', 'not_found', 'denied', 'timeout', 'error'];

/** The pre-labelled series of one S3 operation (exported at 0 from the start): a counter per status and the latency histogram. */
export function s3OperationSeries(operation: string): { status: Record<S3Status, { inc(): void }>; latency: { observe(seconds: number): void } } {
  const status = Object.fromEntries(S3_STATUSES.map((s) => [s, s3Requests.labels(operation, s)])) as Record<S3Status, { inc(n?: number): void }>;
  for (const s of S3_STATUSES) status[s].inc(0);
  s3Latency.zero({ operation });
  return { status, latency: s3Latency.labels(operation) };
}

// Cache-index: capacity and eviction.
/** Chunks evicted. */
export const evictions = new Counter({ name: 'larder_cache_evictions_total', help: 'Chunks evicted from the cache.', registers });
/** Bytes evicted. */
export const evictedBytes = new Counter({ name: 'larder_cache_evicted_bytes_total', help: 'Bytes of chunks evicted from the cache.', registers });
/** The configured capacity. */
export const capacityBytes = new SummedGauge('larder_cache_capacity_bytes', 'Configured cache capacity.', 'max');
/** Bytes the index holds (read from Redis at scrape time). */
export const usedBytes = new SummedGauge('larder_cache_used_bytes', 'Bytes of chunks in the cache (the Redis index).');
/** Chunks the index holds (read from Redis at scrape time). */
export const chunkCount = new SummedGauge('larder_cache_chunks', 'Chunks in the cache (the Redis index).');

// Gateway state.
/** Decoded-chunk cache use. */
export const decodedCacheBytes = new SummedGauge('larder_decoded_cache_bytes', 'Bytes held by the gateways’ decoded-chunk caches.');
/** Decoded-chunk cache budget. */
export const decodedCacheBudgetBytes = new SummedGauge('larder_decoded_cache_budget_bytes', 'Budget of the gateways’ decoded-chunk caches.');
/** Decoded copies of chunks on the volume (DecodedSpill). */
export const decodedSpillBytes = new SummedGauge('larder_decoded_spill_bytes', 'Bytes of the gateways’ decoded chunk copies on the volume (segment files).');
export const decodedSpillBudgetBytes = new SummedGauge('larder_decoded_spill_budget_bytes', 'Budget of the gateways’ decoded chunk copies on the volume.');
export const decodedSpillChunks = new SummedGauge('larder_decoded_spill_chunks', 'Chunks held as decoded copies on the volume by the gateways.');
export const decodedSpillCorrupt = new Counter({
  name: 'larder_decoded_spill_corrupt_total',
  help: 'Decoded chunk copies on the volume that failed their CRC check when read (dropped, decoded from the chunk file again).',
  registers,
});
export const decodedSpillFailedWrites = new Counter({
  name: 'larder_decoded_spill_failed_writes_total',
  help: 'Decoded chunk copies the gateways failed to write to the volume.',
  registers,
});
/** Chunk files the image readers hold open. */
export const openChunkFiles = new SummedGauge('larder_open_chunk_files', 'Chunk files the gateways’ image readers hold open.');
/** The config generation in use (the largest among this process's services). */
export const configGeneration = new SummedGauge('larder_config_generation', 'Generation of the config in use (the newest among the process’s services).', 'max');

// The gateway's S3 endpoint.
const s3EndpointRequests = new Counter({
  name: 'larder_s3_endpoint_requests_total',
  help: 'Requests to the gateway’s S3 endpoint by operation and result (ok, error).',
  labelNames: ['operation', 'result'],
  registers,
});
const s3EndpointLatency = new Histogram({
  name: 'larder_s3_endpoint_request_duration_seconds',
  help: 'Latency of the gateway’s S3 endpoint by operation.',
  labelNames: ['operation'],
  buckets: LATENCY_BUCKETS,
  registers,
});

/** Series of the S3 endpoint, labelled children created once per operation name (a small fixed set). */
export class S3EndpointMetrics {
  private readonly byOperation = new Map<string, { ok: { inc(): void }; error: { inc(): void }; latency: { observe(seconds: number): void } }>();
  private readonly bytesOut = gatewayBytes.labels('s3');
  private reportedOut = 0;

  /** Count one request of `operation` that took `seconds`; `bytesOut`: the endpoint's running total of body bytes sent. */
  observe(operation: string, ok: boolean, seconds: number, bytesOut: number): void {
    let s = this.byOperation.get(operation);
    if (!s) {
      s = { ok: s3EndpointRequests.labels(operation, 'ok'), error: s3EndpointRequests.labels(operation, 'error'), latency: s3EndpointLatency.labels(operation) };
      this.byOperation.set(operation, s);
    }
    (ok ? s.ok : s.error).inc();
    s.latency.observe(seconds);
    // Bytes are counted as the operations send them; the total moves on at each request's end.
    if (bytesOut > this.reportedOut) {
      this.bytesOut.inc(bytesOut - this.reportedOut);
      this.reportedOut = bytesOut;
    }
  }
}

// The S3 endpoint's requests to the real S3 (writes through, listings, multipart, HEADs).
const upstreamRequests = new Counter({
  name: 'larder_s3_upstream_requests_total',
  help: 'Requests of the gateway’s S3 endpoint to the real S3, by HTTP method and status class (2xx, 3xx, 4xx, 5xx, unavailable).',
  labelNames: ['method', 'status'],
  registers,
});
const upstreamLatency = new Histogram({
  name: 'larder_s3_upstream_request_duration_seconds',
  help: 'Latency of the S3 endpoint’s upstream requests to the response headers, by HTTP method.',
  labelNames: ['method'],
  buckets: LATENCY_BUCKETS,
  registers,
});
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** Series of the upstream requests, labelled children created once per method (a handful). */
export class S3UpstreamMetrics {
  private readonly byMethod = new Map<string, { classes: { inc(): void }[]; unavailable: { inc(): void }; latency: { observe(seconds: number): void } }>();

  /** Count one request; `status` undefined: S3 was not reached (after the retry). */
  observe(method: string, status: number | undefined, seconds: number): void {
    let s = this.byMethod.get(method);
    if (!s) {
      s = {
        classes: STATUS_CLASSES.map((c) => upstreamRequests.labels(method, c)),
        unavailable: upstreamRequests.labels(method, 'unavailable'),
        latency: upstreamLatency.labels(method),
      };
      this.byMethod.set(method, s);
    }
    const cls = status === undefined ? undefined : s.classes[Math.floor(status / 100) - 1];
    (cls ?? s.unavailable).inc();
    s.latency.observe(seconds);
  }
}

// S3 request budgets (see RequestBudgets in @larder/redis).
/** Throttle answers (503 SlowDown, 429, a configured 403) by budget and operation class. */
export const s3BudgetThrottled = new Counter({
  name: 'larder_s3_throttled_total',
  help: 'S3 answers with a throttle status of the request budget, by budget and operation class (get, put, list).',
  labelNames: ['budget', 'class'],
  registers,
});
/** How long requests waited for a slot of their budget. */
export const s3BudgetWait = new Histogram({
  name: 'larder_s3_budget_wait_seconds',
  help: 'Time S3 requests waited for a slot of their request budget, by budget and operation class.',
  labelNames: ['budget', 'class'],
  buckets: LATENCY_BUCKETS,
  registers,
});

/** One budget class as a process sees it at scrape time. */
export interface BudgetReading {
  budget: string;
  class: string;
  /** Requests per second in force (undefined: unlimited). */
  rate?: number;
  /** Requests of this process waiting for a slot. */
  waiting: number;
}
const budgetSources = new Set<() => Promise<BudgetReading[]>>();

/** Register a process's budgets for the `larder_s3_budget_rate` and `larder_s3_budget_waiting` gauges; call the result to remove them. */
export function addBudgetSource(fn: () => Promise<BudgetReading[]>): () => void {
  budgetSources.add(fn);
  return () => budgetSources.delete(fn);
}

async function budgetReadings(): Promise<BudgetReading[]> {
  const all = await Promise.all([...budgetSources].map((fn) => fn().catch(() => [] as BudgetReading[])));
  return all.flat();
}

new Gauge({
  name: 'larder_s3_budget_rate',
  help: 'Requests per second an S3 request budget allows now, by budget and operation class (after throttle cuts; no series: unlimited).',
  labelNames: ['budget', 'class'],
  registers,
  async collect() {
    this.reset();
    // The rate is the node's (Redis): several sources in one process agree, the last one read stands.
    for (const r of await budgetReadings()) if (r.rate !== undefined) this.set({ budget: r.budget, class: r.class }, r.rate);
  },
});
new Gauge({
  name: 'larder_s3_budget_waiting',
  help: 'S3 requests waiting for a slot of their request budget, by budget and operation class.',
  labelNames: ['budget', 'class'],
  registers,
  async collect() {
    this.reset();
    const sums = new Map<string, { budget: string; class: string; n: number }>();
    for (const r of await budgetReadings()) {
      const k = `${r.budget}\0${r.class}`;
      const s = sums.get(k) ?? { budget: r.budget, class: r.class, n: 0 };
      s.n += r.waiting;
      sums.set(k, s);
    }
    for (const s of sums.values()) this.set({ budget: s.budget, class: s.class }, s.n);
  },
});
