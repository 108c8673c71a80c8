import { Svcm, decodeJson, encodeJson, subjects, type EvictRequest, type EvictedEvent, type NatsConnection } from '@larder/bus';
import type { Config } from '@larder/config';
import { RedisUnavailableError, type ChunkIndex } from '@larder/redis';
import { createLogger } from '@larder/telemetry';
import type { Volume } from '@larder/volume';
import { Evictor, type EvictionReport } from './evictor.js';
import { IndexWatch, volumeId, type IndexHealth, type RebuildReport } from './index-watch.js';
import { reconcile, type ReconcileReport } from './reconciler.js';
import { Scrubber, type ScrubReport, type ScrubStatus } from './scrubber.js';
import { capacityBytes, chunkCount, usedBytes } from '@larder/metrics';

const log = createLogger('cache-index');

/** A temp file is swept by the short sweep only once it is this old (a live write touches its file far more often). */
export const TEMP_MIN_AGE_MS = 30_000;

/** A running cache-index service. */
export interface CacheIndexService {
  /** Run an eviction pass now; with `roomBytes`, also make that much room for writes (see {@link Evictor.run}). */
  evict(roomBytes?: number, largestBytes?: number): Promise<EvictionReport>;
  /** Reconcile the index with the volume now. */
  reconcile(): Promise<ReconcileReport>;
  /** Rebuild the index from the volume now (as when Redis lost it). */
  rebuild(reason?: string): Promise<RebuildReport>;
  /** Check the index epoch marker and Redis's run_id now (as the once-a-second check does). */
  checkIndex(): Promise<void>;
  /** The index's health: ready, rebuilding or Redis unavailable. */
  indexHealth(): IndexHealth;
  /** Sweep temp files of dead writers now (as the `index.tempSweepInterval` timer does); returns how many. */
  sweepTempFiles(): Promise<number>;
  /** Re-verify every chunk file on the volume now, as fast as it goes (the background scrubber runs at `volume.scrubRate`). */
  scrub(): Promise<ScrubReport>;
  /** What the scrubber has checked and found. */
  scrubStatus(): ScrubStatus;
  stop(): Promise<void>;
}

/**
 * Start the cache-index: owns capacity. Evicts on pressure events from fetchers and on a timer, reconciles the
 * index with the volume at start and periodically, scrubs the volume (re-verifies chunk files at `volume.scrubRate`),
 * and answers status and evict requests over NATS.
 */
export async function startCacheIndex(deps: { config: () => Config; nc: NatsConnection; index: ChunkIndex; volume: Volume }): Promise<CacheIndexService> {
  const cfg = deps.config();
  const subj = subjects(cfg.namespace);
  // Every gateway closes the evicted files it holds open, so that their space comes back.
  // Read from the Redis index at scrape time (a Redis that does not answer leaves the gauge at 0).
  const unregister = [
    capacityBytes.add(() => deps.config().capacity),
    usedBytes.add(async () => (await deps.index.totals()).usedBytes),
    chunkCount.add(async () => (await deps.index.totals()).chunkCount),
  ];
  const evictor = new Evictor({ ...deps, evicted: (keys) => deps.nc.publish(subj.indexEvicted, encodeJson({ keys } satisfies EvictedEvent)) });
  // Rebuilds and reconciles run one at a time.
  let maintenance: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = maintenance.then(fn, fn);
    maintenance = p.catch(() => {});
    return p;
  };
  const liveWriterMs = () => Math.max(60_000, 2 * deps.config().fetcher.timeout);
  const reconcileNow = () => reconcile(deps.index, deps.volume, liveWriterMs());
  const runReconcile = () => exclusive(reconcileNow);
  // Redis being unreachable is logged once by the index watch, not by every timer tick.
  const safely = (what: string, p: Promise<unknown>) => p.catch((err) => (err instanceof RedisUnavailableError ? undefined : log.error(`${what} failed`, { err })));
  const watch = new IndexWatch({ index: deps.index, volume: deps.volume, volumeId: await volumeId(deps.volume), evictor, exclusive, reconcile: reconcileNow });

  await watch.start();
  await evictor.run().catch((err) => log.warn('initial eviction failed', { err }));

  const pressure = deps.nc.subscribe(subj.indexPressure, { callback: () => void safely('eviction', evictor.run()) });
  const evictTimer = setInterval(() => void safely('eviction', evictor.run()), cfg.index.evictInterval);
  const reconcileTimer = setInterval(() => void safely('reconcile', runReconcile()), cfg.index.reconcileInterval);
  evictTimer.unref();
  reconcileTimer.unref();
  // Temp files of writers that died mid-write go within a minute: old enough and not a live process's on this host.
  const sweepTemp = async () => {
    const removed = await deps.volume.sweepTempFiles(TEMP_MIN_AGE_MS, liveWriterMs());
    if (removed > 0) log.info('swept temp files of dead writers', { removed });
    return removed;
  };
  let sweepTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  const scheduleSweep = () => {
    if (stopped) return;
    sweepTimer = setTimeout(() => void safely('temp file sweep', sweepTemp()).finally(scheduleSweep), deps.config().index.tempSweepInterval);
    sweepTimer.unref();
  };
  scheduleSweep();
  const scrubber = new Scrubber(deps);
  scrubber.start();

  const service = await new Svcm(deps.nc).add({
    name: subj.indexService,
    version: '0.1.0',
    description: 'Larder cache-index: capacity, eviction and index/volume reconciliation',
  });
  service.addEndpoint('status', {
    subject: subj.indexStatus,
    handler: (err, msg) => {
      if (err) return;
      void (async () => {
        try {
          // Without Redis: what the volume and the config say, and why the index numbers are missing.
          const totals = await deps.index.totals().catch((e: unknown) => {
            if (e instanceof RedisUnavailableError) return undefined;
            throw e;
          });
          const cap = await evictor.capacity(totals?.usedBytes ?? 0);
          const fs = await deps.volume.filesystem();
          msg.respond(
            encodeJson({
              usedBytes: totals?.usedBytes ?? null,
              chunkCount: totals?.chunkCount ?? null,
              capacityBytes: cap.configured,
              effectiveCapacityBytes: cap.effective,
              redisOnline: totals !== undefined,
              index: { ...watch.status, evictionPaused: evictor.isPaused },
              volume: { path: deps.volume.dir, fsTotalBytes: fs.totalBytes, fsFreeBytes: fs.freeBytes },
              scrub: scrubber.status,
            }),
          );
        } catch (e) {
          msg.respondError(500, `status failed: ${(e as Error).message}`);
        }
      })();
    },
  });
  service.addEndpoint('evict', {
    subject: subj.indexEvict,
    handler: (err, msg) => {
      if (err) return;
      // A writer short of room says how many bytes it needs (EvictRequest); an empty request runs a plain pass.
      let room = { roomBytes: 0, largestBytes: 0 };
      try {
        if (msg.data.byteLength > 0) {
          const r = decodeJson<EvictRequest>(msg.data);
          const bytes = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);
          room = { roomBytes: bytes(r.roomBytes), largestBytes: bytes(r.largestBytes ?? r.roomBytes) };
        }
      } catch {
        return msg.respondError(400, 'bad evict request: expected {"roomBytes": number, "largestBytes": number} or nothing');
      }
      evictor.run(room.roomBytes, room.largestBytes).then(
        (r) => msg.respond(encodeJson(r)),
        (e: Error) => msg.respondError(500, `eviction failed: ${e.message}`),
      );
    },
  });
  // Requests sent right after start find the endpoints subscribed (as the gc-worker and config-service do).
  await deps.nc.flush();

  return {
    evict: (roomBytes?: number, largestBytes?: number) => evictor.run(roomBytes, largestBytes),
    reconcile: runReconcile,
    rebuild: (reason = 'requested') => watch.rebuild(reason),
    checkIndex: () => watch.check(),
    indexHealth: () => watch.status,
    sweepTempFiles: sweepTemp,
    scrub: () => scrubber.scrub(),
    scrubStatus: () => scrubber.status,
    stop: async () => {
      stopped = true;
      for (const fn of unregister) fn();
      await scrubber.stop();
      watch.stop();
      clearTimeout(sweepTimer);
      clearInterval(evictTimer);
      clearInterval(reconcileTimer);
      pressure.unsubscribe();
      await service.stop();
    },
  };
}
