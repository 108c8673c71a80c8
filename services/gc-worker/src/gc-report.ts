import type { GcPhase, GcReport } from '@larder/bus';

/** The report of a run that has counted nothing yet, in `phase`. */
export function newGcReport(run: { store: string; runId: string; apply: boolean }, phase: GcPhase, startedAt: number = Date.now()): GcReport {
  return {
    ...run,
    phase,
    startedAt,
    done: 0,
    indexes: 0,
    referenced: 0,
    cacheChunks: 0,
    cacheBytes: 0,
    s3Chunks: 0,
    s3Bytes: 0,
    keptByGrace: 0,
    keptByTouch: 0,
  };
}
