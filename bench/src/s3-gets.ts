import http from 'node:http';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { makeS3Client, withRetry } from './s3-client.js';
import { runPool } from './pool.js';
import { mibPerSec, percentile } from './units.js';

/** Which client issues the GETs: the AWS SDK (signed) or plain keep-alive HTTP (anonymous, s3rver allows it). */
export type GetClientKind = 'sdk' | 'http';

/** Options of {@link timeObjectGets}. */
export interface GetRunOptions {
  /** S3 endpoint, normally the WAN proxy's. */
  endpoint: string;
  bucket: string;
  /** Keys to read, in order, each once (fewer if the time budget runs out). */
  keys: readonly string[];
  /** GETs in flight at once (1 = queue depth 1). */
  concurrency: number;
  client?: GetClientKind;
  /** Stop issuing new GETs after this many ms (those in flight finish). */
  budgetMs?: number;
  /** Image bytes each key stands for (its chunk's plain size): the run then also reports image bytes per second. */
  plainSizes?: readonly number[];
}

/** Figures of one run of GETs. */
export interface GetRunResult {
  concurrency: number;
  client: GetClientKind;
  objects: number;
  bytes: number;
  ms: number;
  mibPerSec: number;
  objectsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  retries: number;
  /** Image bytes of the objects read and their rate (when `plainSizes` was given; else the stored bytes). */
  imageBytes: number;
  imageMiBPerSec: number;
}

/** GET one object with plain HTTP and return its length (body drained, not kept). */
function httpGet(agent: http.Agent, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        const err = new Error(`GET ${url}: HTTP ${res.statusCode}`) as Error & { $metadata: { httpStatusCode?: number } };
        err.$metadata = { httpStatusCode: res.statusCode };
        reject(err);
        return;
      }
      let n = 0;
      res.on('data', (b: Buffer) => (n += b.length));
      res.on('end', () => resolve(n));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** Path-style URL of an object. */
export function objectUrl(endpoint: string, bucket: string, key: string): string {
  return `${endpoint}/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** Read `keys` from S3 with `concurrency` GETs in flight and time it. */
export async function timeObjectGets(opts: GetRunOptions): Promise<GetRunResult> {
  const kind = opts.client ?? 'http';
  const s3 = makeS3Client(opts.endpoint, opts.concurrency);
  const latencies: number[] = [];
  let bytes = 0;
  let imageBytes = 0;
  let retries = 0;
  const onRetry = () => retries++;
  const getOne = async (key: string): Promise<number> => {
    if (kind === 'http') return httpGet(s3.agent, objectUrl(opts.endpoint, opts.bucket, key));
    const out = await s3.client.send(new GetObjectCommand({ Bucket: opts.bucket, Key: key }));
    let n = 0;
    for await (const b of out.Body as AsyncIterable<Uint8Array>) n += b.length;
    return n;
  };
  const t0 = performance.now();
  const deadline = opts.budgetMs === undefined ? Number.POSITIVE_INFINITY : t0 + opts.budgetMs;
  try {
    const objects = await runPool(
      opts.keys.length,
      opts.concurrency,
      async (i) => {
        const key = opts.keys[i] as string;
        const s = performance.now();
        const n = await withRetry(() => getOne(key), 5, onRetry);
        bytes += n;
        imageBytes += opts.plainSizes?.[i] ?? n;
        latencies.push(performance.now() - s);
      },
      deadline,
    );
    const ms = performance.now() - t0;
    return {
      concurrency: opts.concurrency,
      client: kind,
      objects,
      bytes,
      ms,
      mibPerSec: mibPerSec(bytes, ms),
      objectsPerSec: objects / (ms / 1000),
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      retries,
      imageBytes,
      imageMiBPerSec: mibPerSec(imageBytes, ms),
    };
  } finally {
    s3.destroy();
  }
}

/** Try each concurrency in turn and return every run plus the best one (highest image MiB/s). */
export async function bestParallelGets(base: Omit<GetRunOptions, 'concurrency'>, concurrencies: readonly number[]): Promise<{ runs: GetRunResult[]; best: GetRunResult }> {
  const runs: GetRunResult[] = [];
  for (const c of concurrencies) runs.push(await timeObjectGets({ ...base, concurrency: c }));
  const best = runs.reduce((a, b) => (b.imageMiBPerSec > a.imageMiBPerSec ? b : a));
  return { runs, best };
}
