// Test helper (excluded from the build): a node whose services run as separate processes (each service's dist/main.js),
// so that a test can kill -9 any of them; and a nats-server of the test's own, which a test may restart.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Svcm, busOptionsFrom, connectBus, subjects, type NatsConnection } from '@larder/bus';
import { configFromMapping, parseConfig, resolveDatastore, resolveDatastores, type Config, type ResolvedDatastore } from '@larder/config';
import { ChunkIndex, createRedis, redisOptionsFrom } from '@larder/redis';
import { destroyObjectGetters, destroyS3Clients, ensureBucket, s3ClientFor } from '@larder/s3';
import { startEmbeddedS3, type EmbeddedS3 } from '@larder/s3-server';
import { freePort } from '@larder/config/testing';
import { writeServedConfig } from './test-config.js';

/** The services a node runs, by the folder of their dist/main.js. */
export type ServiceName = 'config-service' | 'cache-index' | 'chunk-fetcher' | 'gateway';

const mainOf = (name: ServiceName | 'cli') => fileURLToPath(new URL(`../../${name}/dist/main.js`, import.meta.url));
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export { freePort };

/** Wait (bounded) until `cond` holds. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Resolves once something accepts connections on `port` (bounded). */
async function listening(port: number, timeoutMs = 15_000): Promise<void> {
  await until(
    `a listener on port ${port}`,
    () =>
      new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true))).on('error', () => resolve(false));
      }),
    timeoutMs,
  );
}

/** Kill a child with SIGKILL and wait for its exit. */
async function killChild(c: ChildProcess | undefined): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await exited;
}

/** A nats-server (with JetStream) of the test's own on a free port, which the test may stop and start again on the same port. */
export interface OwnNats {
  readonly url: string;
  /** kill -9 the server. */
  stop(): Promise<void>;
  start(): Promise<void>;
  cleanup(): Promise<void>;
}

/** Start `nats-server -js -p P -sd <tmp>` (never the shared one at 4222). */
export async function startOwnNats(): Promise<OwnNats> {
  const port = await freePort();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'larder-nats-'));
  let child: ChildProcess | undefined;
  const own: OwnNats = {
    url: `nats://127.0.0.1:${port}`,
    start: async () => {
      child = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], { stdio: 'ignore' });
      await listening(port);
    },
    stop: () => killChild(child),
    cleanup: async () => {
      await killChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
  await own.start();
  return own;
}

/** One service running as a child process; `start` runs a replacement (same config, same ports). */
export interface ServiceProcess {
  readonly name: ServiceName;
  /** What it wrote so far (stdout and stderr), for failure messages. */
  output(): string;
  pid(): number | undefined;
  /** kill -9, and wait for its exit. */
  kill(): Promise<void>;
  /** Start it (again), and wait until it serves. */
  start(): Promise<void>;
}

/** A node whose services each run in a process of their own, on the test's S3 server and config file. */
export interface ProcessStack {
  readonly ns: string;
  readonly dir: string;
  readonly config: Config;
  readonly configFile: string;
  readonly s3: EmbeddedS3;
  /** The gateway's URL (a fixed port, so that a replacement answers at the same address). */
  readonly gatewayUrl: string;
  readonly nc: NatsConnection;
  readonly services: Record<Exclude<ServiceName, 'chunk-fetcher'>, ServiceProcess>;
  readonly fetchers: ServiceProcess[];
  ds(name: string): ResolvedDatastore;
  /** Start one more chunk-fetcher process. */
  addFetcher(): Promise<ServiceProcess>;
  /** How many instances of a service answer `$SRV.PING` now. */
  online(service: 'chunk-fetcher' | 'cache-index' | 'config-service'): Promise<number>;
  /** Run the real `larder` CLI against the gateway (`env` on top of the services'); `stderr()` is its output so far. */
  cli(args: string[], env?: Record<string, string>): { stderr: () => string; done: Promise<{ code: number; stdout: string; stderr: string }> };
  cleanup(): Promise<void>;
}

/**
 * Start a node as separate processes: the embedded S3 server here, and the config-service, the cache-index, `fetchers`
 * chunk-fetchers and a gateway each from its dist/main.js, on one config file (owned by the config-service).
 */
export async function startProcessStack(
  opts: {
    fetchers?: number;
    config?: Record<string, unknown>;
    nats?: string;
    redis?: string;
    /** Variables every service (and the CLI) gets, e.g. LARDER_REDIS_PASSWORD; the stack's own connections take them too. */
    env?: Record<string, string>;
  } = {},
): Promise<ProcessStack> {
  const ns = `t${randomBytes(5).toString('hex')}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), `larder-${ns}-`));
  const s3 = await startEmbeddedS3({ directory: path.join(dir, 's3') });
  const gatewayPort = await freePort();
  const config: Config = parseConfig({
    namespace: ns,
    capacity: '1GiB',
    volume: { path: path.join(dir, 'volume') },
    redis: { url: opts.redis ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    nats: { servers: opts.nats ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
    s3: { endpoint: s3.endpoint },
    fetcher: { timeout: '10s', retries: 2, backoff: '50ms' },
    index: { evictInterval: '500ms' },
    datastores: { demo: { layout: 'pbs', bucket: `${ns}-demo` }, cas: { layout: 'casync', bucket: `${ns}-cas` } },
    ...opts.config,
    // The gateway listens on a port fixed here, so that a replacement answers at the same address.
    gateway: {
      touchFlushInterval: '100ms',
      nbdListen: '127.0.0.1:0',
      s3Listen: '127.0.0.1:0',
      ...(opts.config?.gateway as object | undefined),
      listen: `127.0.0.1:${gatewayPort}`,
    },
  });
  for (const d of resolveDatastores(config)) await ensureBucket(s3ClientFor(d), d.bucket);
  await mkdir(dir, { recursive: true });
  const configFile = await writeServedConfig(dir, config);
  const env = { ...process.env, LARDER_CONFIG: configFile, LARDER_CONFIG_TTL: '1s', LARDER_LOG_LEVEL: process.env.LARDER_LOG_LEVEL ?? 'warn', ...opts.env };
  // The stack's own connections: the config with the credentials of opts.env (the file has none).
  const own = opts.env ? configFromMapping(config, { source: 'test stack', baseDir: dir, env: opts.env }) : config;
  const nc = await connectBus(busOptionsFrom(own, `${ns}-test`));
  const subj = subjects(ns);
  const pingName = { 'chunk-fetcher': subj.fetcherService, 'cache-index': subj.indexService, 'config-service': subj.configService } as const;
  const online = async (service: keyof typeof pingName) => {
    let n = 0;
    try {
      for await (const _ of await new Svcm(nc).client({ strategy: 'timer', maxWait: 300 }).ping(pingName[service])) n++;
    } catch {
      // none
    }
    return n;
  };
  const children: ChildProcess[] = [];

  const service = (name: ServiceName, ready: (out: () => string) => Promise<void>): ServiceProcess => {
    let child: ChildProcess | undefined;
    let out = '';
    return {
      name,
      output: () => out,
      pid: () => child?.pid,
      kill: () => killChild(child),
      start: async () => {
        const c = spawn(process.execPath, [mainOf(name)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        child = c;
        children.push(c);
        c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
        c.stderr?.on('data', (d: Buffer) => (out += d.toString()));
        const exited = new Promise<never>((_, reject) => c.once('exit', (code, signal) => reject(new Error(`${name} exited (${code ?? signal}) while starting:\n${out}`))));
        exited.catch(() => {});
        await Promise.race([ready(() => out), exited]);
      },
    };
  };
  /** Ready when one more instance than before answers $SRV.PING. */
  const pinged = (name: keyof typeof pingName) => {
    let before = 0;
    const s = service(name, async () => {
      await until(`${name} to answer $SRV.PING`, async () => (await online(name)) > before, 30_000);
    });
    const start = s.start;
    return {
      ...s,
      start: async () => {
        before = await online(name);
        await start();
      },
    };
  };
  const services = {
    'config-service': pinged('config-service'),
    'cache-index': pinged('cache-index'),
    gateway: service('gateway', async (out) => {
      await until('the gateway to listen', () => /Larder gateway: /.test(out()), 30_000);
      await listening(gatewayPort);
    }),
  };
  const fetchers: ServiceProcess[] = [];
  const addFetcher = async () => {
    const f = pinged('chunk-fetcher');
    fetchers.push(f);
    await f.start();
    return f;
  };
  const stack: ProcessStack = {
    ns,
    dir,
    config,
    configFile,
    s3,
    gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
    nc,
    services,
    fetchers,
    ds: (name) => {
      const d = resolveDatastore(config, name);
      if (!d) throw new Error(`no datastore ${name}`);
      return d;
    },
    addFetcher,
    online,
    cli: (args, extraEnv) => {
      const child = spawn(process.execPath, [mainOf('cli'), ...args], {
        env: { ...env, LARDER_GATEWAY_URL: `http://127.0.0.1:${gatewayPort}`, ...extraEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const done = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr })));
      return { stderr: () => stderr, done };
    },
    cleanup: async () => {
      for (const c of children) await killChild(c);
      await nc.close().catch(() => {});
      await s3.stop();
      destroyS3Clients();
      destroyObjectGetters();
      const redis = createRedis(redisOptionsFrom(own));
      redis.on('error', () => {});
      await new ChunkIndex(redis, ns).clear().catch(() => {});
      const budgetKeys = await redis.keys(`{${ns}}:budget:*`).catch(() => []);
      if (budgetKeys.length > 0) await redis.unlink(...budgetKeys).catch(() => 0);
      redis.disconnect();
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await services['config-service'].start();
    await services['cache-index'].start();
    for (let i = 0; i < (opts.fetchers ?? 1); i++) await addFetcher();
    await services.gateway.start();
  } catch (err) {
    await stack.cleanup();
    throw err;
  }
  return stack;
}
