import { Svcm, encodeJson, subjects, type NatsConnection } from '@larder/bus';
import type { Config } from '@larder/config';
import type { ChunkIndex } from '@larder/redis';
import { createLogger } from '@larder/telemetry';
import type { Volume } from '@larder/volume';
import { Evictor, type EvictionReport } from './evictor.js';
import { reconcile, type ReconcileReport } from './reconciler.js';

const log = createLogger('cache-index');

/** A running cache-index service. */
export interface CacheIndexService {
  /** Run an eviction pass now. */
  evict(): Promise<EvictionReport>;
  /** Reconcile the index with the volume now. */
  reconcile(): Promise<ReconcileReport>;
  stop(): Promise<void>;
}

/**
 * Start the cache-index: owns capacity. Evicts on pressure events from fetchers and on a timer, reconciles the
 * index with the volume at start and periodically, and answers status and evict requests over NATS.
 */
export async function startCacheIndex(deps: { config: () => Config; nc: NatsConnection; index: ChunkIndex; volume: Volume }): Promise<CacheIndexService> {
  const cfg = deps.config();
  const subj = subjects(cfg.namespace);
  const evictor = new Evictor(deps);
  const runReconcile = () => reconcile(deps.index, deps.volume, Math.max(60_000, 2 * deps.config().fetcher.timeout));
  const safely = (what: string, p: Promise<unknown>) => p.catch((err) => log.error(`${what} failed`, { err }));

  await runReconcile().catch((err) => log.warn('initial reconcile failed', { err }));
  await evictor.run().catch((err) => log.warn('initial eviction failed', { err }));

  const pressure = deps.nc.subscribe(subj.indexPressure, { callback: () => void safely('eviction', evictor.run()) });
  const evictTimer = setInterval(() => void safely('eviction', evictor.run()), cfg.index.evictInterval);
  const reconcileTimer = setInterval(() => void safely('reconcile', runReconcile()), cfg.index.reconcileInterval);
  evictTimer.unref();
  reconcileTimer.unref();

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
          const totals = await deps.index.totals();
          const cap = await evictor.capacity(totals.usedBytes);
          msg.respond(encodeJson({ ...totals, capacityBytes: cap.configured, effectiveCapacityBytes: cap.effective }));
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
      evictor.run().then(
        (r) => msg.respond(encodeJson(r)),
        (e: Error) => msg.respondError(500, `eviction failed: ${e.message}`),
      );
    },
  });

  return {
    evict: () => evictor.run(),
    reconcile: runReconcile,
    stop: async () => {
      clearInterval(evictTimer);
      clearInterval(reconcileTimer);
      pressure.unsubscribe();
      await service.stop();
    },
  };
}
