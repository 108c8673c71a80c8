import http from 'node:http';
import { runPool } from './pool.js';
import { mibPerSec, percentile } from './units.js';

/** Options of {@link runHttpLoad}. */
export interface HttpLoadOptions {
  /** Base URL, e.g. `http://127.0.0.1:8080`; each request GETs `base + paths[i % paths.length]`. */
  base: string;
  /** Paths to request, cycled in order. */
  paths: readonly string[];
  /** Requests in flight at once (default 64). */
  concurrency?: number;
  /** Stop after this many requests (default: paths.length). */
  requests?: number;
  /** And stop issuing new requests after this many ms (default 10 s). */
  durationMs?: number;
  /** Expected body size of each path, checked when given (a mismatch counts as an error). */
  expectBytes?: (index: number) => number | undefined;
}

/** Figures of a load run. */
export interface HttpLoadResult {
  concurrency: number;
  requests: number;
  errors: number;
  bytes: number;
  ms: number;
  requestsPerSec: number;
  mibPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** First error message seen, if any. */
  firstError?: string;
}

/** One GET, body drained; resolves with status and byte count. */
function get(agent: http.Agent, url: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      let n = 0;
      res.on('data', (b: Buffer) => (n += b.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes: n }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** Closed-loop HTTP load: `concurrency` keep-alive connections each issuing GETs back to back; bounded by count and time. */
export async function runHttpLoad(opts: HttpLoadOptions): Promise<HttpLoadResult> {
  if (opts.paths.length === 0) throw new Error('runHttpLoad: no paths');
  const concurrency = opts.concurrency ?? 64;
  const total = opts.requests ?? opts.paths.length;
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const latencies: number[] = [];
  let bytes = 0;
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const deadline = t0 + (opts.durationMs ?? 10_000);
  try {
    const done = await runPool(
      total,
      concurrency,
      async (i) => {
        const path = opts.paths[i % opts.paths.length] as string;
        const s = performance.now();
        try {
          const r = await get(agent, opts.base + path);
          const want = opts.expectBytes?.(i % opts.paths.length);
          if (r.status !== 200 || (want !== undefined && r.bytes !== want)) {
            errors++;
            firstError ??= `GET ${path}: HTTP ${r.status}, ${r.bytes} bytes`;
          } else {
            bytes += r.bytes;
            latencies.push(performance.now() - s);
          }
        } catch (err) {
          errors++;
          firstError ??= `GET ${path}: ${(err as Error).message}`;
        }
      },
      deadline,
    );
    const ms = performance.now() - t0;
    const ok = done - errors;
    return {
      concurrency,
      requests: done,
      errors,
      bytes,
      ms,
      requestsPerSec: ok / (ms / 1000),
      mibPerSec: mibPerSec(bytes, ms),
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      ...(firstError ? { firstError } : {}),
    };
  } finally {
    agent.destroy();
  }
}
