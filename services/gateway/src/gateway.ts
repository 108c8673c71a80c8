import path from 'node:path';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { SpanKind, SpanStatusCode, context, propagation } from '@opentelemetry/api';
import { StatusError, statusOf } from '@larder/errors';
import { FetchClient, decodeJson, subjects, type EvictedEvent, type NatsConnection } from '@larder/bus';
import { parseListen, type Config } from '@larder/config';
import { ChunkTouches, FlightLocks, KnownChunks, type ChunkIndex, type Redis } from '@larder/redis';
import { createLogger, tracer } from '@larder/telemetry';
import {
  configGeneration,
  decodedCacheBudgetBytes,
  decodedCacheBytes,
  decodedSpillBudgetBytes,
  decodedSpillBytes,
  decodedSpillChunks,
  decodedSpillCorrupt,
  decodedSpillFailedWrites,
  openChunkFiles,
  renderMetrics,
} from '@larder/metrics';
import { SavedIndexes, type Volume } from '@larder/volume';
import { ChunkStore } from './chunk-store.js';
import { matchRoute, sendError, type Route } from './http-kit.js';
import { AccessError, authorize, checkExposure, needsTokens } from './access.js';
import { chunkRoutes } from './routes/chunk-routes.js';
import { statusRoutes } from './routes/status-routes.js';
import { TouchBatcher } from './touch-batcher.js';
import { createNbdServer, type NbdServer } from '@larder/nbd';
import { OpenChunkFiles } from './images/open-chunk-files.js';
import { DecodedChunkCache } from './images/decoded-cache.js';
import { DecodedSpill } from './images/decoded-spill.js';
import { SpillScrubber } from './images/spill-scrubber.js';
import { ImageCatalog } from './images/image-catalog.js';
import { ImageReader } from './images/image-reader.js';
import { imageExports } from './images/nbd-exports.js';
import { checkNbdExposure, loadNbdTls } from './images/nbd-access.js';
import { imageRoutes } from './routes/image-routes.js';
import { ChunkReadahead, IndexMap } from './chunk-readahead/index.js';
import { startS3Server, type S3Server } from './s3-api/s3-server.js';
import type { Authenticator } from './s3-api/s3-auth.js';
import type { ChunkObjects } from './s3-api/chunk-objects.js';
import { ChunkObjectStore } from './s3-api/chunk-object-store.js';
import { S3UsageCounter } from './s3-usage.js';
import { RecentErrors } from './recent-errors.js';

const log = createLogger('gateway');
const tr = tracer('larder.gateway');

/** What the S3 endpoint's chunk objects are built from. */
export type ChunkObjectNode = { chunks: ChunkStore; readahead: ChunkReadahead; config: () => Config; nc: NatsConnection; index: ChunkIndex; volume: Volume };

/** What the gateway needs: config (read per request so reloads apply), NATS, the index and the volume. */
export interface GatewayDeps {
  config: () => Config;
  nc: NatsConnection;
  index: ChunkIndex;
  volume: Volume;
  /** Redis, for the record of chunks known to be in S3 (the S3 endpoint's writes). */
  redis: Redis;
  /** Overrides config.gateway.listen (tests use 127.0.0.1:0). */
  listen?: string;
  /** Overrides config.gateway.nbdListen; `false` runs no NBD server. */
  nbdListen?: string | false;
  /** Overrides config.gateway.s3Listen; `false` serves no S3 endpoint. */
  s3Listen?: string | false;
  /** The S3 endpoint's signature check (default: SigV4 against `accessKeys`). */
  s3Authenticate?: Authenticator;
  /** Chunk keys of the S3 endpoint (default: through the cache, a ChunkObjectStore); tests may pass them through instead. */
  chunkObjects?: (node: ChunkObjectNode) => ChunkObjects;
  /** The config cache's status (generation, config-service online, restart required), shown as `config` in /v1/status. */
  configStatus?: () => object;
  /** The node's S3 request budgets, shown as `s3Budgets` in /v1/status. */
  budgets?: { status(): Promise<object[]> };
  /** This process's place among the gateway's HTTP processes (`gateway.workers`), shown as `gatewayProcess` in /v1/status. */
  worker?: { index: number; count: number };
}

/** A running gateway. */
export interface Gateway {
  readonly url: string;
  readonly port: number;
  readonly chunks: ChunkStore;
  /** The NBD server's port, when one runs. */
  readonly nbdPort: number | undefined;
  /** The S3 endpoint's URL and port, when one runs. */
  readonly s3Url: string | undefined;
  readonly s3Port: number | undefined;
  readonly decodedCache: DecodedChunkCache;
  /** Decoded copies of compressed chunks on the volume, and their background check. */
  readonly decodedSpill: DecodedSpill;
  readonly spillScrubber: SpillScrubber;
  /** Readahead for chunk-by-chunk clients (the chunk and casync routes). */
  readonly chunkReadahead: ChunkReadahead;
  stop(): Promise<void>;
}

/** Start the HTTP gateway: chunks (hit from the volume, miss through the fetchers), casync store, health and status. */
export async function startGateway(deps: GatewayDeps): Promise<Gateway> {
  const httpListen = deps.listen ?? deps.config().gateway.listen;
  checkExposure(deps.config(), httpListen, log);
  const exposed = needsTokens(deps.config(), httpListen);
  // NBD settings are checked (and its TLS files read) before anything starts, so that a refusal leaves nothing running.
  const nbdAddr = deps.nbdListen === false ? undefined : parseListen(deps.nbdListen ?? deps.config().gateway.nbdListen);
  const nbdTlsConfig = deps.config().gateway.nbdTls;
  if (nbdAddr) checkNbdExposure(deps.config(), nbdAddr.host);
  const nbdTls = nbdAddr && nbdTlsConfig ? await loadNbdTls(nbdTlsConfig) : undefined;
  const touches = new TouchBatcher(deps.index, deps.config().gateway.touchFlushInterval);
  const s3Usage = new S3UsageCounter(deps.index, deps.config().gateway.touchFlushInterval);
  const fetcher = new FetchClient(deps.nc, () => {
    const c = deps.config();
    return { namespace: c.namespace, timeoutMs: c.gateway.requestTimeout, livenessMs: c.gateway.fetchLivenessTimeout };
  });
  const chunks = new ChunkStore({ volume: deps.volume, fetcher, touches, verify: { config: deps.config, index: deps.index } });
  const decodedCache = new DecodedChunkCache(deps.config().images.decodedCacheSize);
  // Image reads fetch a chunk again when a full volume evicted it between its fetch and its open.
  const imageChunks = { open: (store: string, digest: string) => chunks.openRefetching(store, digest), recordUse: (key: string) => chunks.recordUse(key) };
  const chunkFiles = new OpenChunkFiles(imageChunks);
  const spill = new DecodedSpill(path.join(deps.config().volume.path, deps.config().namespace, 'decoded-spill'), () => deps.config().images.decodedSpillSize, {
    onCorrupt: () => decodedSpillCorrupt.inc(),
    onFailedWrite: () => decodedSpillFailedWrites.inc(),
  });
  // Its copies re-checked in the background at the volume's scrub rate, as the chunk files are by the cache-index; the
  // gateway's worker processes (each with its own spill) share that rate, so that more workers read the volume no faster.
  const spillScrubber = new SpillScrubber(spill, () => deps.config().volume.scrubRate / (deps.worker?.count ?? 1));
  spillScrubber.start();
  chunks.onQuarantine((key) => chunkFiles.forget(key));
  // Evicted files held open here are closed at once (or when their read ends), so that a full volume gets its space back.
  const evictedSub = deps.nc.subscribe(subjects(deps.config().namespace).indexEvicted, {
    callback: (err, msg) => {
      if (err) return log.warn('eviction events stopped', { err });
      try {
        chunkFiles.evicted(decodeJson<EvictedEvent>(msg.data).keys);
      } catch (e) {
        log.warn('bad eviction event', { err: e });
      }
    },
  });
  // The last good copy of each image's index, beside the chunks, so that cached images open while S3 is unreachable.
  const catalog = new ImageCatalog(deps.config, new SavedIndexes(deps.config().volume.path, deps.config().namespace, { fsync: deps.config().volume.fsync }));
  const reader = async (store: string, name: string) => {
    decodedCache.setBudget(deps.config().images.decodedCacheSize);
    return new ImageReader(await catalog.open(store, name), {
      chunks: imageChunks,
      files: chunkFiles,
      cache: decodedCache,
      spill,
      maxReadahead: () => deps.config().images.readahead,
    });
  };
  const chunkReadahead = new ChunkReadahead(new IndexMap(deps.config, catalog), (store, digest) => chunks.prefetch(store, digest), deps.config);
  // Gauges read at scrape time; removed when this gateway stops.
  const unregister = [
    decodedCacheBytes.add(() => decodedCache.usedBytes),
    decodedCacheBudgetBytes.add(() => deps.config().images.decodedCacheSize),
    decodedSpillBytes.add(() => spill.usedBytes),
    decodedSpillBudgetBytes.add(() => deps.config().images.decodedSpillSize),
    decodedSpillChunks.add(() => spill.count),
    openChunkFiles.add(() => chunkFiles.openCount),
    configGeneration.add(() => (deps.configStatus?.() as { generation?: number } | undefined)?.generation),
  ];
  const recentErrors = new RecentErrors();
  // Declared before the routes: /v1/status may be asked as soon as the HTTP server listens.
  let nbd: NbdServer | undefined;
  const routes: Route[] = [
    metricsRoute,
    ...chunkRoutes(deps.config, chunks, chunkReadahead),
    ...imageRoutes({ catalog, reader }),
    ...statusRoutes({
      ...deps,
      touches,
      s3Usage,
      decodedCache,
      decodedSpill: spill,
      spillScrub: () => spillScrubber.status,
      chunkFiles,
      chunkReadahead,
      images: () => catalog.status(),
      s3Endpoint: () => (s3 ? { ...s3.stats.snapshot(), chunks: chunkObjects?.status() } : null),
      nbd: () => (nbd ? { clients: nbd.connections, accepted: nbd.accepted, tls: nbdTls ? (nbdTls.require === false ? 'optional' : 'required') : 'off' } : null),
      recentErrors: () => recentErrors.list(),
    }),
  ];
  const sockets = new Set<Socket>();
  let s3: S3Server | undefined;
  /** The S3 endpoint's chunk objects, when they are the cache's (not a test's stand-in). */
  let chunkObjects: ChunkObjectStore | undefined;

  const server = http.createServer((req, res) => void handle(routes, deps.config, exposed, req, res, recentErrors));
  server.keepAliveTimeout = 65_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const listen = parseListen(deps.listen ?? deps.config().gateway.listen);
  if (!listen) throw new Error(`gateway.listen is not host:port: ${deps.listen}`);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`gateway cannot listen on ${listen.host}:${listen.port}: ${err.message}`, { cause: err })));
    server.listen(listen.port, listen.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let nbdPort: number | undefined;
  if (nbdAddr) {
    nbd = createNbdServer({ provider: imageExports({ config: deps.config, catalog, reader }), host: nbdAddr.host, port: nbdAddr.port, logger: log, tls: nbdTls });
    try {
      nbdPort = (await nbd.listen()).port;
    } catch (err) {
      evictedSub.unsubscribe();
      server.close();
      throw new Error(`gateway cannot serve NBD on ${nbdAddr.host}:${nbdAddr.port}: ${(err as Error).message}`, { cause: err });
    }
  }
  const s3Listen = deps.s3Listen ?? deps.config().gateway.s3Listen;
  const known = new KnownChunks(deps.redis, deps.config().namespace, {
    retainMs: () => deps.config().gateway.knownChunkTtl,
    onError: (op, err) => log.warn('known chunks: Redis did not answer', { op, err: err.message }),
  });
  const chunkTouches = new ChunkTouches(deps.redis, deps.config().namespace, {
    onError: (op, err) => log.warn('chunk touches: Redis did not answer', { op, err: err.message }),
  });
  // One upload of a new chunk per node, whichever of its gateways the PUTs reach.
  const uploadLocks = new FlightLocks(deps.redis, deps.config().namespace);
  const defaultChunkObjects = (node: ChunkObjectNode) => (chunkObjects = new ChunkObjectStore({ ...node, known, touches: chunkTouches, locks: uploadLocks }));
  if (s3Listen !== false) {
    try {
      s3 = await startS3Server({
        config: deps.config,
        listen: s3Listen,
        authenticate: deps.s3Authenticate,
        usage: s3Usage,
        chunkObjects: (deps.chunkObjects ?? defaultChunkObjects)({ chunks, readahead: chunkReadahead, config: deps.config, nc: deps.nc, index: deps.index, volume: deps.volume }),
      });
    } catch (err) {
      await nbd?.close();
      evictedSub.unsubscribe();
      server.close();
      throw err;
    }
  }
  const url = `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${port}`;
  log.info('gateway listening', { url, nbdPort, s3Url: s3?.url });
  return {
    url,
    port,
    chunks,
    nbdPort,
    s3Url: s3?.url,
    s3Port: s3?.port,
    decodedCache,
    decodedSpill: spill,
    spillScrubber,
    chunkReadahead,
    stop: async () => {
      await nbd?.close();
      await s3?.stop();
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      setTimeout(() => sockets.forEach((s) => s.destroy()), 2000).unref();
      await closed;
      evictedSub.unsubscribe();
      for (const fn of unregister) fn();
      chunkFiles.close();
      await spillScrubber.stop();
      spill.close();
      fetcher.close();
      catalog.close();
      await touches.stop();
      await s3Usage.stop();
    },
  };
}

/** `GET /metrics`: every metric of this process (all services, in the stack) in Prometheus's text format; a read token when tokens are configured. */
const metricsRoute: Route = {
  methods: ['GET', 'HEAD'],
  pattern: /^\/metrics$/,
  handler: async (req, res) => {
    const { body, contentType } = await renderMetrics();
    res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  },
};

async function handle(routes: Route[], config: () => Config, exposed: boolean, req: IncomingMessage, res: ServerResponse, recentErrors: RecentErrors): Promise<void> {
  const method = req.method ?? 'GET';
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const parent = propagation.extract(context.active(), req.headers);
  await tr.startActiveSpan(`gateway ${method}`, { kind: SpanKind.SERVER, attributes: { 'http.method': method, 'http.target': path } }, parent, async (span) => {
    try {
      const found = matchRoute(routes, method, path);
      if ('status' in found) {
        sendError(res, new StatusError(found.status, found.status === 405 ? `method ${method} not allowed on ${path}` : `no such endpoint: ${path}`));
      } else {
        const token = authorize(config(), req, found.route, found.params, exposed);
        if (token) span.setAttribute('enduser.id', token.name);
        await found.handler(req, res, found.params);
      }
    } catch (err) {
      if (err instanceof AccessError) {
        // Refused requests are not failures of the gateway: they stay out of the recent errors, like unknown paths.
        sendError(res, err);
        return;
      }
      const status = statusOf(err);
      if (status >= 500) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        if (status === 500) log.error('request failed', { path, err });
      }
      // Failed handlers only: unknown paths (scanners, typos) would push real failures out.
      recentErrors.add({ method, path, status, message: (err as Error)?.message ?? String(err) });
      sendError(res, err);
    } finally {
      span.setAttribute('http.status_code', res.statusCode);
      span.end();
    }
  });
}
