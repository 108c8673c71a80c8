// Test helper (excluded from the build): a GC engine stand-in that walks the phases with progress, honours the
// signal, and deletes nothing; runs can be held in a phase until a test lets them go.
import type { GcPhase, GcReport } from '@larder/bus';
import type { ResolvedDatastore } from '@larder/config';
import { newGcReport } from './gc-report.js';
import type { GcEngine, GcRunOptions } from './gc-types.js';

const PHASES: GcPhase[] = ['listing', 'mark', 'sweep-cache', 'sweep-s3', 'verify'];

/** A stand-in engine; `hold(store)` keeps the next runs of `store` in the mark phase until `release(store)`. */
export class StandInEngine implements GcEngine {
  /** Every run started, in order: store and run id. */
  readonly started: { store: string; runId: string; apply: boolean }[] = [];
  private readonly held = new Map<string, { promise: Promise<void>; resolve: () => void }>();

  constructor(private readonly opts: { stepsPerPhase?: number; stepMs?: number } = {}) {}

  hold(store: string): void {
    let resolve = () => {};
    const promise = new Promise<void>((r) => (resolve = r));
    this.held.set(store, { promise, resolve });
  }

  release(store: string): void {
    this.held.get(store)?.resolve();
    this.held.delete(store);
  }

  async runDatastore(store: ResolvedDatastore, opts: GcRunOptions): Promise<GcReport> {
    this.started.push({ store: store.name, runId: opts.runId, apply: opts.apply });
    const report: GcReport = newGcReport({ store: store.name, runId: opts.runId, apply: opts.apply }, 'listing');
    const steps = this.opts.stepsPerPhase ?? 3;
    const aborted = new Promise<void>((r) => opts.signal.addEventListener('abort', () => r(), { once: true }));
    const end = (phase: GcPhase, error?: string): GcReport => ({ ...report, phase, finishedAt: Date.now(), ...(error ? { error } : {}) });
    for (const phase of PHASES) {
      for (let i = 0; i <= steps; i++) {
        if (opts.signal.aborted) return end('cancelled');
        opts.onProgress({ ...report, phase, done: i, total: steps });
        const gate = phase === 'mark' && i === 0 ? this.held.get(store.name)?.promise : undefined;
        await Promise.race([gate ?? new Promise((r) => setTimeout(r, this.opts.stepMs ?? 5)), aborted]);
      }
      if (phase === 'mark') Object.assign(report, { indexes: 4, referenced: 100 });
      if (phase === 'sweep-cache') Object.assign(report, { cacheChunks: 7, cacheBytes: 7 * 4096 });
      if (phase === 'sweep-s3') Object.assign(report, store.owned ? { s3Chunks: 5, s3Bytes: 5 * 4096, keptByGrace: 2, keptByTouch: 1 } : { s3Skipped: 'not owned' });
    }
    return end('done');
  }
}
