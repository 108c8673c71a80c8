import { readFileSync } from 'node:fs';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { CA_FORMAT_SHA512_256, CAIBX_DEFAULT_FEATURE_FLAGS, digestFromHex, encodeCasyncChunk, encodeDataBlob, writeCaibx, writeFixedIndex } from '@larder/formats';
import { ChunkIndex, createRedis } from '@larder/redis';
import { benchRedisOptions } from './bench-connections.js';
import type { ChunkedImage } from './image-fixture.js';
import { BENCH_ACCESS_KEY, type LarderHook, type LarderStack, type LarderStartOptions } from './larder-hook.js';
import { freePort, spawnService, waitForPort, type Service } from './processes.js';
import { sleep } from './pool.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const main = (service: string) => path.join(repo, 'services', service, 'dist', 'main.js');

/** Store name of an image in Larder's config and URLs. */
function storeName(image: ChunkedImage): string {
  return image.name.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 63);
}

/** Index object name (under `.cnt/`) Larder reads an image from. */
function indexName(image: ChunkedImage): string {
  return `${storeName(image)}.${image.format === 'pbs' ? 'fidx' : 'caibx'}`;
}

/** Start Larder as separate processes (cache-index, N chunk-fetchers, gateway) against the harness's S3 link and Redis. */
async function start(opts: LarderStartOptions): Promise<LarderStack> {
  const ns = `bench${randomBytes(3).toString('hex')}`;
  const httpPort = await freePort();
  let nbdPort = await freePort();
  while (nbdPort === httpPort) nbdPort = await freePort(); // the kernel may hand the same free port out twice
  let s3Port = await freePort();
  while (s3Port === httpPort || s3Port === nbdPort) s3Port = await freePort();
  const datastores: Record<string, unknown> = {};
  for (const image of opts.images) {
    // The fixture names chunks by SHA-256 in both layouts (casync's --digest=sha256).
    datastores[storeName(image)] = { layout: image.format, bucket: image.bucket, prefix: image.prefix, digest: 'sha256' };
  }
  for (const [name, d] of Object.entries(opts.extraDatastores ?? {})) datastores[name] = { bucket: opts.s3.bucket, ...d };
  const config = {
    namespace: ns,
    capacity: '20GiB',
    volume: { path: path.join(opts.workDir, 'volume') },
    redis: { url: opts.redis.url },
    // Always a port of its own: the default (8781) may be taken by another Larder on the machine.
    gateway: {
      listen: `127.0.0.1:${httpPort}`,
      nbdListen: `127.0.0.1:${nbdPort}`,
      s3Listen: `127.0.0.1:${s3Port}`,
      ...(opts.gatewayWorkers === undefined ? {} : { workers: opts.gatewayWorkers }),
    },
    accessKeys: [{ ...BENCH_ACCESS_KEY, buckets: ['*'], access: 'read-write' }],
    s3: { endpoint: opts.s3.endpoint, region: opts.s3.region, pathStyle: opts.s3.pathStyle, accessKeyId: opts.s3.accessKeyId, secretAccessKey: opts.s3.secretAccessKey },
    datastores,
    ...(opts.fetcherConcurrency === undefined ? {} : { fetcher: { concurrency: opts.fetcherConcurrency } }),
  };
  await mkdir(opts.workDir, { recursive: true });
  const file = path.join(opts.workDir, 'larder.yaml');
  await writeFile(file, stringify(config));
  const env = { ...process.env, LARDER_CONFIG: file, LARDER_LOG_LEVEL: 'warn', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  const services: Service[] = [];
  const stackStarted = new Date().toISOString().slice(11, 19).replace(/:/g, '');
  const roles: { role: string; service: Service }[] = [];
  const spawnNode = (service: string) => {
    // LARDER_BENCH_PROFILE_DIR=DIR writes a CPU profile of every Larder process (read them to see where time goes);
    // named by the stack's start time, so that a scenario starting several stacks keeps every one.
    const prof = process.env.LARDER_BENCH_PROFILE_DIR
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.LARDER_BENCH_PROFILE_DIR}`, `--cpu-prof-name=${stackStarted}-${service}-${services.length}.cpuprofile`]
      : [];
    const s = spawnService(process.execPath, [...prof, main(service)], { env });
    services.push(s);
    roles.push({ role: service, service: s });
    return s;
  };
  const stop = async () => {
    await Promise.all(services.map((s) => s.stop(3000)));
  };
  try {
    spawnNode('cache-index');
    for (let i = 0; i < (opts.fetchers ?? 1); i++) spawnNode('chunk-fetcher');
    const gateway = spawnNode('gateway');
    await waitForPort('127.0.0.1', httpPort, 60_000, gateway.child).catch((err: Error) => {
      throw new Error(`${err.message}; gateway stderr: ${gateway.stderrTail()}`, { cause: err });
    });
    const gatewayUrl = `http://127.0.0.1:${httpPort}`;
    for (let i = 0; ; i++) {
      const s = (await (await fetch(`${gatewayUrl}/v1/status`)).json()) as { fetchersOnline: number; cacheIndexOnline: boolean };
      if (s.fetchersOnline >= (opts.fetchers ?? 1) && s.cacheIndexOnline) break;
      if (i > 100) throw new Error(`Larder did not come up: ${JSON.stringify(s)}; gateway stderr: ${gateway.stderrTail()}`);
      await sleep(100);
    }
    // The port answers once one worker listens; a measurement must not start while the others still load (they would
    // take the CPU, and the connections made meanwhile all go to the first).
    if ((opts.gatewayWorkers ?? 1) > 1) await allWorkersAnswer(httpPort, opts.gatewayWorkers ?? 1, 60_000);
    // With `gateway.workers` > 1 the gateway's pid is the supervisor's: its workers are its children.
    const gatewayPids = () => (gateway.child.pid ? [gateway.child.pid, ...childPids(gateway.child.pid)] : []);
    return {
      gatewayUrl,
      // A gateway without the S3 endpoint never opens the port.
      s3Url: () =>
        waitForPort('127.0.0.1', s3Port, 3000, gateway.child).then(
          () => `http://127.0.0.1:${s3Port}`,
          () => undefined,
        ),
      storeName,
      nbdUri: (image) => `nbd://127.0.0.1:${nbdPort}/${storeName(image)}/${indexName(image)}`,
      gatewayPids,
      // The gateway's workers count as the gateway (their CPU is the gateway's).
      processes: () => roles.flatMap((r) => (r.service === gateway ? gatewayPids() : r.service.child.pid ? [r.service.child.pid] : []).map((pid) => ({ role: r.role, pid }))),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Admit then touch throughput of the Lua-scripted LRU index, each for half the duration, 16 calls in flight. */
async function indexBench(opts: { redis: { url: string }; durationMs: number; keyPrefix: string }): Promise<{ admitOpsPerSec: number; touchOpsPerSec: number }> {
  const redis = createRedis(benchRedisOptions(opts.redis.url));
  const index = new ChunkIndex(redis, opts.keyPrefix.replace(/[{}:]/g, '') || 'benchidx');
  try {
    const keys: string[] = [];
    const phase = async (op: (n: number) => Promise<number>) => {
      const until = performance.now() + opts.durationMs / 2;
      let ops = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (performance.now() < until) {
            // Not `ops += await …`: that reads `ops` before the await and loses the other workers' counts.
            const done = await op(ops);
            ops += done;
          }
        }),
      );
      return ops / ((performance.now() - t0) / 1000);
    };
    const admitOpsPerSec = await phase(async (n) => {
      const key = `bench/${n.toString(16).padStart(64, '0')}`;
      keys.push(key);
      await index.admit(key, 65536);
      return 1;
    });
    const touchOpsPerSec = await phase(async (n) => {
      const start = (n * 500) % Math.max(1, keys.length - 500);
      return index.touch(keys.slice(start, start + 500));
    });
    return { admitOpsPerSec, touchOpsPerSec };
  } finally {
    await index.clear();
    redis.disconnect();
  }
}

/** Larder, wired into the benchmark. */
export const larderStackHook: LarderHook = {
  encodeChunk: (plain, format) => (format === 'pbs' ? encodeDataBlob(plain) : encodeCasyncChunk(plain)),
  async writeIndex(image, put) {
    const prefix = image.prefix ? `${image.prefix.replace(/\/$/, '')}/` : '';
    const key = `${prefix}.cnt/${indexName(image)}`;
    if (image.format === 'pbs') {
      await put(key, writeFixedIndex({ size: image.sizeBytes, chunkSize: 4 * 2 ** 20, digests: image.chunks.map((c) => digestFromHex(c.digest)) }));
    } else {
      const entries = image.chunks.map((c) => ({ end: c.offset + c.size, digest: digestFromHex(c.digest) }));
      await put(key, writeCaibx({ entries, featureFlags: CAIBX_DEFAULT_FEATURE_FLAGS & ~CA_FORMAT_SHA512_256, chunkSizeMax: 256 * 1024 }));
    }
  },
  start,
  indexBench,
};

/** The child processes of `pid` (from /proc; none when it cannot be read). */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Wait until each of the gateway's `workers` worker processes has answered `/v1/status` on a connection of its own. */
async function allWorkersAnswer(port: number, workers: number, timeoutMs: number): Promise<void> {
  const seen = new Set<number>();
  const until = Date.now() + timeoutMs;
  while (seen.size < workers) {
    if (Date.now() > until) throw new Error(`only gateway workers ${[...seen].join(', ')} of ${workers} answered within ${timeoutMs} ms`);
    // A new connection each time (no keep-alive agent): the cluster hands each one to the next listening worker.
    const worker = await new Promise<number | undefined>((resolve) => {
      http
        .get({ host: '127.0.0.1', port, path: '/v1/status', agent: false }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => {
            try {
              resolve((JSON.parse(body) as { gatewayProcess?: { worker?: number } }).gatewayProcess?.worker);
            } catch {
              resolve(undefined);
            }
          });
        })
        .on('error', () => resolve(undefined));
    });
    if (worker !== undefined) seen.add(worker);
    else await sleep(100);
  }
}
