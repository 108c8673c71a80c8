import { mkdir } from 'node:fs/promises';
import { freePort, runCommand, spawnService, waitForPort } from './processes.js';

/** Where a Redis listens. */
export interface RedisTarget {
  host: string;
  port: number;
}

/** A private redis-server the harness started. */
export interface PrivateRedis extends RedisTarget {
  /** `redis://host:port`. */
  url: string;
  stop(): Promise<void>;
}

/** Start a private, non-persistent redis-server on a free port (data in `dir`). */
export async function startPrivateRedis(dir: string): Promise<PrivateRedis> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const svc = spawnService('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes']);
  try {
    await waitForPort('127.0.0.1', port, 10_000, svc.child);
  } catch (err) {
    await svc.stop();
    throw new Error(`redis-server did not start: ${(err as Error).message}\n${svc.stderrTail()}`);
  }
  return { host: '127.0.0.1', port, url: `redis://127.0.0.1:${port}`, stop: () => svc.stop() };
}

/** Options of {@link runRedisZaddBenchmark}. */
export interface RedisZaddOptions extends RedisTarget {
  /** Total commands (default 200 000). */
  requests?: number;
  /** Commands per pipeline (default 16). */
  pipeline?: number;
  /** Parallel connections (default 50, redis-benchmark's own default). */
  clients?: number;
  /** Members drawn from [0, keyspace) (default 100 000). */
  keyspace?: number;
  /** The sorted set written; deleted afterwards (default `larder-bench:zadd`). */
  key?: string;
}

/** Figures of a redis-benchmark run. */
export interface RedisBenchResult {
  opsPerSec: number;
  p50Ms: number;
  command: string;
}

/** Parse `redis-benchmark --csv` output: the first data row's rps and p50 latency. */
export function parseRedisBenchmarkCsv(text: string): { opsPerSec: number; p50Ms: number } {
  const lines = text.split(/\r?\n/).filter((l) => l.startsWith('"'));
  const header = (lines[0] ?? '').split(',').map((h) => h.replace(/"/g, ''));
  const row = (lines[1] ?? '').split('","').map((c) => c.replace(/"/g, ''));
  const col = (name: string) => Number(row[header.indexOf(name)] ?? Number.NaN);
  return { opsPerSec: col('rps'), p50Ms: col('p50_latency_ms') };
}

/** Pipelined ZADD throughput of a Redis (redis-benchmark -P 16) on one key of its own, removed afterwards. */
export async function runRedisZaddBenchmark(opts: RedisZaddOptions): Promise<RedisBenchResult> {
  const key = opts.key ?? 'larder-bench:zadd';
  const args = [
    '-h',
    opts.host,
    '-p',
    String(opts.port),
    '-n',
    String(opts.requests ?? 200_000),
    '-P',
    String(opts.pipeline ?? 16),
    '-c',
    String(opts.clients ?? 50),
    '-r',
    String(opts.keyspace ?? 100_000),
    '--csv',
    'ZADD',
    key,
    '__rand_int__',
    'member:__rand_int__',
  ];
  try {
    const r = await runCommand('redis-benchmark', args, { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`redis-benchmark failed (${r.code}): ${r.stderr.trim()}`);
    return { ...parseRedisBenchmarkCsv(r.stdout), command: `redis-benchmark ${args.join(' ')}` };
  } finally {
    await runCommand('redis-cli', ['-h', opts.host, '-p', String(opts.port), 'DEL', key], { timeoutMs: 10_000 }).catch(() => undefined);
  }
}
