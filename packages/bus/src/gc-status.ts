import type { GcReport } from './gc-wire.js';

/** The report of a run whose worker died (its lease expired with the run unfinished): failed, abandoned. */
export function abandonedReport(r: GcReport, now = Date.now()): GcReport {
  return {
    ...r,
    phase: 'failed',
    finishedAt: r.finishedAt ?? now,
    error: `abandoned in phase ${r.phase}: its gc-worker ${r.worker ?? ''} stopped before the run ended (its lease expired)`,
  };
}

/**
 * A datastore's GC state from its records in Redis (the lease's holder, the run record, the last report): the run in
 * progress, or, for a run record without its lease (its worker died), that run as the last one, abandoned.
 */
export function gcStoreStatus(rec: { holder?: { runId: string }; current?: GcReport; last?: GcReport }): { running?: GcReport; last?: GcReport } {
  const { holder, current, last } = rec;
  if (current && holder && holder.runId === current.runId) return { running: current, last };
  if (current && (!last || last.startedAt <= current.startedAt)) return { last: abandonedReport(current) };
  return { last };
}
