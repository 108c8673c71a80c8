import { Svcm, decodeJson, subjects, type NatsConnection } from '@larder/bus';
import type { Config } from '@larder/config';
import type { ChunkIndex } from '@larder/redis';
import { sendJson, type Route } from '../http-kit.js';
import type { TouchBatcher } from '../touch-batcher.js';
import type { ChunkFiles } from '../images/chunk-files.js';
import type { DecodedChunkCache } from '../images/decoded-cache.js';

/** Count the chunk-fetchers answering $SRV.STATS and add up their fetches in flight. */
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

/** `GET /healthz` and `GET /v1/status`. */
export function statusRoutes(deps: { config: () => Config; nc: NatsConnection; index: ChunkIndex; touches: TouchBatcher; decodedCache: DecodedChunkCache; chunkFiles?: ChunkFiles; configStatus?: () => object }): Route[] {
  return [
    {
      methods: ['GET', 'HEAD'],
      pattern: /^\/healthz$/,
      handler: (_req, res) => sendJson(res, 200, { ok: true }),
    },
    {
      methods: ['GET'],
      pattern: /^\/v1\/status$/,
      handler: async (_req, res) => {
        const cfg = deps.config();
        await deps.touches.flush();
        const [totals, stats, fetchers, index] = await Promise.all([
          deps.index.totals(),
          deps.index.stats(),
          fetcherStats(deps.nc, subjects(cfg.namespace).fetcherService),
          deps.nc
            .request(subjects(cfg.namespace).indexStatus, undefined, { timeout: 500 })
            .then((m) => decodeJson<{ effectiveCapacityBytes?: number }>(m.data))
            .catch(() => undefined),
        ]);
        sendJson(res, 200, {
          namespace: cfg.namespace,
          capacityBytes: cfg.capacity,
          effectiveCapacityBytes: index?.effectiveCapacityBytes ?? null,
          usedBytes: totals.usedBytes,
          chunkCount: totals.chunkCount,
          hits: stats.hits ?? 0,
          misses: stats.misses ?? 0,
          s3Gets: stats.s3Gets ?? 0,
          s3Bytes: stats.s3Bytes ?? 0,
          verifyFailures: stats.verifyFailures ?? 0,
          evictions: stats.evictions ?? 0,
          evictedBytes: stats.evictedBytes ?? 0,
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
          openChunkFiles: deps.chunkFiles?.openCount ?? 0,
          config: deps.configStatus?.() ?? null,
          datastores: Object.entries(cfg.datastores).map(([name, d]) => ({ name, layout: d.layout, bucket: d.bucket, prefix: d.prefix })),
        });
      },
    },
  ];
}
