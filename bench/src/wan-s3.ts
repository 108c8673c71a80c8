import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startEmbeddedS3 } from '@larder/s3-server';
import type { EmbeddedS3, S3Fault } from '@larder/s3-server';
import { startWanProxy } from './wan-proxy.js';
import type { WanProxy, WanProxyStats } from './wan-proxy.js';
import type { LinkSpec } from './link.js';
import { DEFAULT_LINK } from './link.js';

/** Counters of the embedded S3, as plain data (GETs per `bucket/key`). */
export interface S3StatsSnapshot {
  requests: number;
  objectGets: number;
  objectGetBytes: number;
  puts: number;
  heads: number;
  /** Requests by HTTP method. */
  byMethod: Record<string, number>;
  /** Request body bytes S3 received. */
  bytesReceived: number;
  /** Conditional PUTs answered 412 (the object existed). */
  preconditionFailed: number;
  getsByKey: Record<string, number>;
  putsByKey: Record<string, number>;
}

/** The embedded S3 behind the WAN proxy. */
export interface WanS3 {
  readonly link: LinkSpec;
  /** Endpoint through the shaped link: what every client under test uses. */
  readonly endpoint: string;
  readonly host: string;
  readonly port: number;
  /** The S3 itself, unshaped: for setup (uploads) only. */
  readonly directEndpoint: string;
  /** Whether S3 and proxy run in a child process (so they do not share the bench client's event loop). */
  readonly isolated: boolean;
  /** The process S3 and proxy run in (this one when not isolated): for its CPU time. */
  readonly pid: number;
  s3Stats(): Promise<S3StatsSnapshot>;
  proxyStats(): Promise<WanProxyStats>;
  /** Zero both the S3 and the proxy counters. */
  resetStats(): Promise<void>;
  setFault(fault: S3Fault | undefined): Promise<void>;
  /** Stop S3 and proxy (and the child process). */
  stop(): Promise<void>;
}

/** Options of {@link startWanS3}. */
export interface WanS3Options {
  /** Directory where s3rver keeps its objects. */
  directory: string;
  buckets: string[];
  link?: LinkSpec;
  /** Run S3 and proxy in a child process (default: when the compiled child script exists). */
  isolate?: boolean;
}

/** Message the child answers with. */
interface Reply {
  id: number;
  result?: unknown;
  error?: string;
}

/** Ready message of the child. */
interface Ready {
  ready: { endpoint: string; host: string; port: number; directEndpoint: string };
}

const CHILD = fileURLToPath(new URL('./wan-s3-child.js', import.meta.url));

/** Plain-data copy of the S3 counters. */
export function snapshotS3(s3: EmbeddedS3): S3StatsSnapshot {
  const s = s3.stats;
  return {
    requests: s.requests,
    objectGets: s.objectGets,
    objectGetBytes: s.objectGetBytes,
    puts: s.puts,
    heads: s.heads,
    byMethod: Object.fromEntries(s.byMethod),
    bytesReceived: s.bytesReceived,
    preconditionFailed: s.preconditionFailed,
    getsByKey: Object.fromEntries(s.getsByKey),
    putsByKey: Object.fromEntries(s.putsByKey),
  };
}

/** Start S3 and proxy in this process. */
export async function startLocalParts(opts: WanS3Options): Promise<{ s3: EmbeddedS3; proxy: WanProxy }> {
  const link = opts.link ?? DEFAULT_LINK;
  const s3 = await startEmbeddedS3({ directory: opts.directory, buckets: opts.buckets });
  const proxy = await startWanProxy({
    target: { host: s3.host, port: s3.port },
    latencyMs: link.latencyMs,
    bandwidthBytesPerSec: link.bandwidthBytesPerSec,
    handshakeMs: link.handshakeMs,
  });
  return { s3, proxy };
}

async function startInProcess(opts: WanS3Options, link: LinkSpec): Promise<WanS3> {
  const { s3, proxy } = await startLocalParts(opts);
  return {
    link,
    endpoint: proxy.endpoint,
    host: proxy.host,
    port: proxy.port,
    directEndpoint: s3.endpoint,
    isolated: false,
    pid: process.pid,
    s3Stats: async () => snapshotS3(s3),
    proxyStats: async () => ({ ...proxy.stats }),
    resetStats: async () => {
      s3.resetStats();
      proxy.resetStats();
    },
    setFault: async (f) => s3.setFault(f),
    stop: async () => {
      await proxy.stop();
      await s3.stop();
    },
  };
}

async function startIsolated(opts: WanS3Options, link: LinkSpec): Promise<WanS3> {
  const child: ChildProcess = fork(CHILD, [JSON.stringify({ ...opts, link })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let nextId = 1;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let exited = false;
  const ready = await new Promise<Ready['ready']>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`wan-s3 child exited with ${code} before it was ready`)));
    child.on('message', (m: Reply | Ready) => {
      if ('ready' in m) return resolve(m.ready);
      const w = waiting.get(m.id);
      if (!w) return;
      waiting.delete(m.id);
      if (m.error) w.reject(new Error(m.error));
      else w.resolve(m.result);
    });
  });
  child.removeAllListeners('exit');
  child.on('exit', () => {
    exited = true;
    for (const w of waiting.values()) w.reject(new Error('wan-s3 child exited'));
    waiting.clear();
  });
  const call = <T>(op: string, arg?: unknown): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (exited) return reject(new Error('wan-s3 child has exited'));
      const id = nextId++;
      waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, op, arg });
    });
  return {
    link,
    ...ready,
    isolated: true,
    pid: child.pid ?? 0,
    s3Stats: () => call<S3StatsSnapshot>('s3Stats'),
    proxyStats: () => call<WanProxyStats>('proxyStats'),
    resetStats: () => call<void>('resetStats'),
    setFault: (f) => call<void>('setFault', f ?? null),
    stop: async () => {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await call<void>('stop').catch(() => undefined);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** Start the embedded S3 behind a WAN proxy with `link` (default 20 ms one-way, 64 MiB/s per connection). */
export async function startWanS3(opts: WanS3Options): Promise<WanS3> {
  const link = opts.link ?? DEFAULT_LINK;
  const isolate = opts.isolate ?? existsSync(CHILD);
  return isolate ? startIsolated(opts, link) : startInProcess(opts, link);
}
