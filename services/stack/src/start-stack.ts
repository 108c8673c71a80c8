import { startCacheIndex, type CacheIndexService } from '@larder/cache-index';
import { startChunkFetcher, type ChunkFetcher } from '@larder/chunk-fetcher';
import { resolveDatastores, usesEmbeddedS3, type Config } from '@larder/config';
import { startGateway, type Gateway } from '@larder/gateway';
import { createGcEngine, startGcWorker, type GcEngine, type GcWorker } from '@larder/gc-worker';
import { destroyObjectGetters, destroyS3Clients, ensureBucket, s3ClientFor } from '@larder/s3';
import { startEmbeddedS3, type EmbeddedS3 } from '@larder/s3-server';
import { connectNodeDeps, type NodeDeps } from '@larder/service-kit';
import { parseListen } from '@larder/config';
import { initMetrics } from '@larder/metrics';
import type { ConfigCache } from '@larder/config-cache';
import type { ConfigService } from '@larder/config-service';
import { startStackConfig } from './stack-config.js';

/** How many of each service to run in this process. */
export interface StackOptions {
  fetchers?: number;
  gateways?: number;
  /** Gateway listen address override (tests: 127.0.0.1:0). */
  gatewayListen?: string;
  /** The config file: when given, the stack runs the config-service on it and each service's ConfigCache follows it; without it the caches hold the given config. */
  configFile?: string;
  /** The GC engine of the gc-worker (tests: a stand-in); default the build's engine; false: no gc-worker. */
  gcEngine?: GcEngine | false;
  /** The gc-worker's lease and schedule check (tests); defaults as the gc-worker's. */
  gcLeaseMs?: number;
  gcScheduleCheckMs?: number;
  /** TTL (ms) of the config-service's file check and of the caches' generation check; default LARDER_CONFIG_TTL or 60 s. */
  configTtlMs?: number;
}

/** A whole Larder node running in one process: embedded S3 (when configured), cache-index, gc-worker, fetchers, gateways. */
export interface Stack {
  /** The config with the embedded S3 endpoint filled in. */
  readonly config: Config;
  readonly s3: EmbeddedS3 | undefined;
  readonly gateways: Gateway[];
  readonly fetchers: ChunkFetcher[];
  readonly cacheIndex: CacheIndexService;
  /** The gc-worker (undefined with `gcEngine: false`). */
  readonly gcWorker: GcWorker | undefined;
  /** Connections of the first gateway, for tests and tools. */
  readonly deps: NodeDeps;
  /** Stop one fetcher (tests of failures). */
  stopFetcher(i: number): Promise<void>;
  /** Start one more fetcher (tests of failures); it is `fetchers[fetchers.length - 1]`. */
  startFetcher(): Promise<ChunkFetcher>;
  /** The running config-service (only with `configFile`; undefined while stopped). */
  configService(): ConfigService | undefined;
  /** Each service's config cache by service name (fixed ones without `configFile`). */
  readonly configCaches: Record<string, ConfigCache>;
  /** Stop and start the config-service again (tests of failures). */
  stopConfigService(): Promise<void>;
  startConfigService(): Promise<void>;
  stop(): Promise<void>;
}

/** Start every service of a node in this process; stops what started if a later part fails. */
export async function startStack(input: Config, opts: StackOptions = {}): Promise<Stack> {
  // One process runs every service: one registry, served on the gateway's port, labelled service="stack".
  initMetrics('stack');
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    let config = input;
    let s3: EmbeddedS3 | undefined;
    if (usesEmbeddedS3(config)) {
      const listen = parseListen(config.s3.embedded.listen);
      s3 = await startEmbeddedS3({ directory: config.s3.embedded.directory, host: listen?.host, port: listen?.port }).catch((err: Error) => {
        throw new Error(`cannot start the embedded S3 server on ${config.s3.embedded.listen}: ${err.message}`, { cause: err });
      });
      const server = s3;
      cleanups.push(() => server.stop());
      config = { ...config, s3: { ...config.s3, endpoint: s3.endpoint } };
      for (const ds of resolveDatastores(config)) if (ds.endpoint === s3.endpoint) await ensureBucket(s3ClientFor(ds), ds.bucket);
    }
    const cfg = config;
    const stackConfig = await startStackConfig(cfg, { file: opts.configFile, ttlMs: opts.configTtlMs, embeddedEndpoint: s3?.endpoint });
    cleanups.push(() => stackConfig.stop());
    const connect = async (name: string) => {
      const d = await connectNodeDeps(cfg, name);
      cleanups.push(() => d.close());
      const c = await stackConfig.forService(name, d.nc);
      cleanups.push(() => c.close());
      return { ...d, config: c.config, configStatus: c.configStatus };
    };

    const indexDeps = await connect('cache-index');
    const cacheIndex = await startCacheIndex(indexDeps);
    cleanups.push(() => cacheIndex.stop());

    // The gc-worker: one per stack; runs GC only when asked or scheduled (`datastores.*.gcEvery`).
    let gcWorker: GcWorker | undefined;
    if (opts.gcEngine !== false) {
      const gcDeps = await connect('gc-worker');
      const engine = opts.gcEngine ?? createGcEngine(gcDeps);
      const w = await startGcWorker({ ...gcDeps, engine, leaseMs: opts.gcLeaseMs, scheduleCheckMs: opts.gcScheduleCheckMs });
      gcWorker = w;
      cleanups.push(() => w.stop());
    }

    const fetchers: ChunkFetcher[] = [];
    const startFetcher = async () => {
      const f = await startChunkFetcher(await connect(`chunk-fetcher-${fetchers.length}`));
      fetchers.push(f);
      cleanups.push(() => f.stop());
      return f;
    };
    for (let i = 0; i < (opts.fetchers ?? 1); i++) await startFetcher();
    const gateways: Gateway[] = [];
    let firstDeps: NodeDeps | undefined;
    for (let i = 0; i < (opts.gateways ?? 1); i++) {
      const d = await connect(`gateway-${i}`);
      firstDeps ??= d;
      // One S3 endpoint per fixed address: further gateways serve one only on a free port (tests).
      const s3Listen = cfg.gateway.s3Listen;
      const g = await startGateway({ ...d, listen: opts.gatewayListen, s3Listen: i > 0 && s3Listen !== false && parseListen(s3Listen)?.port !== 0 ? false : undefined });
      gateways.push(g);
      cleanups.push(() => g.stop());
    }
    cleanups.unshift(async () => {
      destroyS3Clients();
      destroyObjectGetters();
    });
    return {
      config: cfg,
      s3,
      gateways,
      fetchers,
      cacheIndex,
      gcWorker,
      deps: firstDeps as NodeDeps,
      stopFetcher: (i) => fetchers[i]?.stop() ?? Promise.resolve(),
      startFetcher,
      configService: () => stackConfig.service(),
      configCaches: stackConfig.caches,
      stopConfigService: () => stackConfig.stopService(),
      startConfigService: () => stackConfig.startService(),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
