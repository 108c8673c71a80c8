import { Svcm, decodeJson, gcStoreStatus, subjects, type GcReport, type NatsConnection } from '@larder/bus';
import type { Config } from '@larder/config';
import { GcRuns, s3RequestCounts, s3StoreCounts, type ChunkIndex, type Redis } from '@larder/redis';
import { sendJson, type Route } from '../http-kit.js';
import type { TouchBatcher } from '../touch-batcher.js';
import type { S3UsageCounter } from '../s3-usage.js';
import { s3CostStatus } from '../s3-cost.js';
import type { OpenChunkFiles } from '../images/open-chunk-files.js';
import type { DecodedChunkCache } from '../images/decoded-cache.js';
import type { DecodedSpill } from '../images/decoded-spill.js';
import type { SpillScrubStatus } from '../images/spill-scrubber.js';
import type { ChunkReadahead } from '../chunk-readahead/index.js';
import type { RecentError } from '../recent-errors.js';
import { STATUS_PAGE } from './status-page.js';

/** Count the instances of a service (chunk-fetchers, gc-workers) answering $SRV.STATS and add up their fetches in flight. */
async function fetcherStats(nc: NatsConnection, name: string): Promise<{ online: number; inflight: number; queued: number }> {
  const out = { online: 0, inflight: 0, queued: 0 };
  try {
    const replies = await new Svcm(nc).client({ strategy: 'timer', maxWait: 300 }).stats(name);
    for await (const s of replies) {
      out.online++;
      const data = (s.endpoints?.[0]?.data ?? {}) as { inflight?: number; queued?: number };
      out.inflight += data.inflight ?? 0;
      out.queued += data.queued ?? 0;
    }
  } catch {
    // No fetchers answered: zero online.
  }
  return out;
}

/** How long /v1/status waits for the GC records in Redis before it answers without them. */
const GC_STATUS_MS = 500;

/** A GC run as /v1/status shows it. */
function gcRunStatus(r: GcReport) {
  return {
    runId: r.runId,
    apply: r.apply,
    phase: r.phase,
    startedAt: new Date(r.startedAt).toISOString(),
    finishedAt: r.finishedAt ? new Date(r.finishedAt).toISOString() : null,
    durationMs: (r.finishedAt ?? Date.now()) - r.startedAt,
    worker: r.worker ?? null,
    done: r.done,
    total: r.total ?? null,
    cache: { chunks: r.cacheChunks, bytes: r.cacheBytes },
    s3: { chunks: r.s3Chunks, bytes: r.s3Bytes, keptByGrace: r.keptByGrace, keptByTouch: r.keptByTouch, skipped: r.s3Skipped ?? null },
    error: r.error ?? null,
  };
}

/** The `gc` section: per datastore the run in progress and the last run, from the GC records in Redis (null when Redis does not answer in time). */
async function gcSection(redis: Redis, cfg: Config) {
  const stores = Object.keys(cfg.datastores).sort();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), GC_STATUS_MS)));
  try {
    const recs = await Promise.race([new GcRuns<GcReport>(redis, cfg.namespace).read(stores), timeout]);
    if (!recs) return null;
    return recs.map((rec) => {
      const { running, last } = gcStoreStatus(rec);
      const ds = cfg.datastores[rec.store];
      return { store: rec.store, owned: ds?.owned ?? false, gcEveryMs: ds?.gcEvery ?? null, running: running ? gcRunStatus(running) : null, last: last ? gcRunStatus(last) : null };
    });
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/** `GET /` (the status page), `GET /healthz` and `GET /v1/status`. */
export function statusRoutes(deps: {
  config: () => Config;
  nc: NatsConnection;
  index: ChunkIndex;
  /** For the GC records (the `gc` section); without it the section is null. */
  redis?: Redis;
  touches: TouchBatcher;
  s3Usage?: S3UsageCounter;
  decodedCache: DecodedChunkCache;
  /** Decoded copies of chunks on the volume (absent: the section is null). */
  decodedSpill?: Pick<DecodedSpill, 'usedBytes' | 'count' | 'failedWrites' | 'corrupt'>;
  /** Its background check (absent: `scrub` is null). */
  spillScrub?: () => SpillScrubStatus;
  chunkFiles?: OpenChunkFiles;
  configStatus?: () => object;
  images?: () => Promise<object>;
  chunkReadahead?: ChunkReadahead;
  /** The S3 endpoint's counters (null: none runs). */
  s3Endpoint?: () => (object & { chunks?: { putsKnown?: number } }) | null;
  /** The NBD server's clients (null: none runs). */
  nbd?: () => { clients: number; accepted: number } | null;
  /** The last failed requests of this process, newest first. */
  recentErrors?: () => RecentError[];
  /** The node's S3 request budgets. */
  budgets?: { status(): Promise<object[]> };
  /** Which of the gateway's HTTP processes answers (`gateway.workers`): its per-process sections are its own. */
  worker?: { index: number; count: number };
}): Route[] {
  return [
    {
      methods: ['GET', 'HEAD'],
      pattern: /^\/$/,
      // The page holds no data; its script asks for a token and sends it with /v1/status.
      access: 'open',
      handler: (req, res) => {
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-length': Buffer.byteLength(STATUS_PAGE),
          'cache-control': 'no-cache',
          // Everything is inline; nothing may load from elsewhere.
          'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
        });
        res.end(req.method === 'HEAD' ? undefined : STATUS_PAGE);
      },
    },
    {
      methods: ['GET', 'HEAD'],
      pattern: /^\/healthz$/,
      // Health checks of orchestrators carry no token; the answer tells nothing.
      access: 'open',
      handler: (_req, res) => sendJson(res, 200, { ok: true }),
    },
    {
      methods: ['GET'],
      pattern: /^\/v1\/status$/,
      handler: async (_req, res) => {
        const cfg = deps.config();
        await Promise.all([deps.touches.flush(), deps.s3Usage?.flush()]);
        // Redis down: answer with what the volume, the fetchers and the config say; its numbers are null.
        let redisError: string | undefined;
        const fromRedis = <T>(p: Promise<T>) =>
          p.catch((err: unknown) => {
            redisError ??= err instanceof Error ? err.message : String(err);
            return undefined;
          });
        const [totals, stats, fetchers, index, images, gc, gcWorkers, s3Budgets] = await Promise.all([
          fromRedis(deps.index.totals()),
          fromRedis(deps.index.stats()),
          fetcherStats(deps.nc, subjects(cfg.namespace).fetcherService),
          deps.nc
            .request(subjects(cfg.namespace).indexStatus, undefined, { timeout: 500 })
            .then((m) => decodeJson<{ effectiveCapacityBytes?: number; index?: object; volume?: object; scrub?: object }>(m.data))
            .catch(() => undefined),
          deps.images?.() ?? null,
          deps.redis ? gcSection(deps.redis, cfg) : null,
          fetcherStats(deps.nc, subjects(cfg.namespace).gcService),
          deps.budgets?.status().catch(() => null) ?? [],
        ]);
        const stat = (name: string) => (stats ? (stats[name] ?? 0) : null);
        const s3Endpoint = deps.s3Endpoint?.() ?? null;
        sendJson(res, 200, {
          namespace: cfg.namespace,
          gatewayProcess: { pid: process.pid, worker: deps.worker?.index ?? 0, workers: deps.worker?.count ?? 1 },
          redis: { online: redisError === undefined, ...(redisError === undefined ? {} : { error: redisError }) },
          index: index?.index ?? null,
          volume: index?.volume ?? null,
          capacityBytes: cfg.capacity,
          effectiveCapacityBytes: index?.effectiveCapacityBytes ?? null,
          usedBytes: totals?.usedBytes ?? null,
          chunkCount: totals?.chunkCount ?? null,
          hits: stat('hits'),
          hitBytes: stat('hitBytes'),
          misses: stat('misses'),
          s3Gets: stat('s3Gets'),
          s3Bytes: stat('s3Bytes'),
          s3Requests: stats ? s3RequestCounts(stats) : null,
          // Every process of the node counts its S3 requests per datastore in the stats; the cost is estimated from `prices`.
          s3Cost: stats
            ? s3CostStatus(cfg.prices, s3StoreCounts(stats), { hits: stats.hits ?? 0, hitBytes: stats.hitBytes ?? 0, putsNotSent: s3Endpoint?.chunks?.putsKnown ?? 0 })
            : null,
          verifyFailures: stat('verifyFailures'),
          quarantined: stat('quarantined'),
          scrub: index?.scrub ?? null,
          evictions: stat('evictions'),
          evictedBytes: stat('evictedBytes'),
          fetchersOnline: fetchers.online,
          fetchesInFlight: fetchers.inflight,
          fetchesQueued: fetchers.queued,
          cacheIndexOnline: index !== undefined,
          decodedCache: {
            budgetBytes: cfg.images.decodedCacheSize,
            usedBytes: deps.decodedCache.usedBytes,
            hits: deps.decodedCache.hits,
            misses: deps.decodedCache.misses,
          },
          // This process's decoded copies on the volume; `corrupt`: copies that failed their CRC check when scrubbed.
          decodedSpill: deps.decodedSpill
            ? {
                budgetBytes: cfg.images.decodedSpillSize,
                usedBytes: deps.decodedSpill.usedBytes,
                chunks: deps.decodedSpill.count,
                failedWrites: deps.decodedSpill.failedWrites,
                corrupt: deps.decodedSpill.corrupt,
                scrub: deps.spillScrub?.() ?? null,
              }
            : null,
          openChunkFiles: deps.chunkFiles?.openCount ?? 0,
          // S3 as the image catalog sees it, and the images served from their last good index while it is unreachable.
          images,
          chunkReadahead: deps.chunkReadahead?.stats() ?? null,
          s3Endpoint,
          // Per budget and operation class: the rate in force (after throttle cuts), throttle answers, requests waiting here.
          s3Budgets,
          nbd: deps.nbd?.() ?? null,
          config: deps.configStatus?.() ?? null,
          recentErrors: deps.recentErrors?.() ?? [],
          // Garbage collection per datastore: the run in progress and the last one (gc-worker records in Redis).
          gc,
          gcWorkersOnline: gcWorkers.online,
          datastores: Object.entries(cfg.datastores).map(([name, d]) => ({ name, layout: d.layout, bucket: d.bucket, prefix: d.prefix })),
        });
      },
    },
  ];
}
