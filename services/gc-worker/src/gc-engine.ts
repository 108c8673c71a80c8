import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { GcPhase, GcReport } from '@larder/bus';
import type { ResolvedDatastore } from '@larder/config';
import { ChunkTouches } from '@larder/redis';
import { s3ClientFor, withS3Priority, type RetryPolicy } from '@larder/s3';
import { createLogger } from '@larder/telemetry';
import { DigestSet } from './digest-file.js';
import { checkCancelled, GcAbort } from './gc-errors.js';
import type { GcEngine, GcEngineDeps, GcRunOptions } from './gc-types.js';
import { markDatastore } from './mark.js';
import { newGcReport } from './gc-report.js';
import { sweepCache } from './sweep-cache.js';
import { sweepS3, type S3SweepResult } from './sweep-s3.js';
import { verifyChunks } from './verify.js';

const log = createLogger('gc-worker');

/** Progress within a phase is reported at most this often. */
const PROGRESS_EVERY_MS = 250;
const DEFAULT_LEASE_MS = 60_000;

/** The folder of a datastore's digest files: `<gc.workDir>/<namespace>/<store>/`. */
export function gcWorkDir(workDir: string, namespace: string, store: string): string {
  return path.resolve(workDir, namespace, store);
}

/** The GC engine: mark, sweep the cache, sweep S3 (owned datastores) and verify, one datastore per call. */
export function createGcEngine(deps: GcEngineDeps): GcEngine {
  // The writers' fence is the node's own unless a test brings one: without it no owned datastore would ever be swept.
  const withFence: GcEngineDeps = { ...deps, fence: deps.fence ?? new ChunkTouches(deps.redis, deps.config().namespace) };
  // GC's listings and deletes are background work in the datastore's request budget: client reads come first.
  return { runDatastore: (store, opts) => withS3Priority('background', () => runDatastore(withFence, store, opts)) };
}

async function runDatastore(deps: GcEngineDeps, ds: ResolvedDatastore, opts: GcRunOptions): Promise<GcReport> {
  const startedAt = Date.now();
  const report: GcReport = newGcReport({ store: ds.name, runId: opts.runId, apply: opts.apply }, 'queued', startedAt);
  let lastEmit = 0;
  const emit = () => {
    lastEmit = Date.now();
    try {
      opts.onProgress({ ...report });
    } catch (err) {
      log.warn('GC progress listener failed', { err: (err as Error).message });
    }
  };
  const phase = (p: GcPhase, total?: number) => {
    report.phase = p;
    report.done = 0;
    report.total = total;
    emit();
  };
  const progress = (done: number, total?: number) => {
    report.done = done;
    if (total !== undefined) report.total = total;
    if (Date.now() - lastEmit >= PROGRESS_EVERY_MS) emit();
  };

  const cfg = deps.config();
  const dir = gcWorkDir(cfg.gc.workDir, cfg.namespace, ds.name);
  const policy: RetryPolicy = { timeoutMs: cfg.fetcher.timeout, retries: cfg.fetcher.retries, backoffMs: cfg.fetcher.backoff };
  const client = s3ClientFor(ds);
  const fence = ds.owned ? deps.fence : undefined;
  let marked: DigestSet | undefined;
  try {
    emit();
    checkCancelled(opts.signal);
    // A writer running now may have touched chunks long ago: its start bounds the cutoff even if it ends before the sweep.
    const writerAtStart = fence ? await fence.oldestWriter(ds.name) : undefined;
    // Leftovers of a run that was killed: a restarted run starts from nothing.
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });

    const mark = await markDatastore(ds, {
      client,
      policy,
      dir,
      name: `marked-${opts.runId}`,
      runBytes: deps.runBytes,
      signal: opts.signal,
      progress: (p, done, total) => (report.phase === p ? progress(done, total) : phase(p, total)),
    });
    report.indexes = mark.indexes;
    report.referenced = mark.referenced;
    marked = await DigestSet.open(mark.file);

    phase('sweep-cache');
    const cache = { chunks: 0, bytes: 0 };
    const showCache = () => {
      report.cacheChunks = cache.chunks;
      report.cacheBytes = cache.bytes;
    };
    try {
      const sweepDeps = { nc: deps.nc, index: deps.index, volume: deps.volume, namespace: cfg.namespace };
      const progressCache = (done: number) => {
        showCache();
        progress(done);
      };
      await sweepCache(sweepDeps, ds.name, marked, { apply: opts.apply, signal: opts.signal, progress: progressCache }, cache);
    } finally {
      showCache();
    }
    checkCancelled(opts.signal);

    const skip = await s3SkipReason(deps, ds, mark.indexes, startedAt, writerAtStart, cfg.gc.grace, opts.apply);
    if (typeof skip === 'string') {
      report.s3Skipped = skip;
    } else {
      phase('sweep-s3');
      // Counts so far stay in the report when the sweep stops half-way.
      const s3: S3SweepResult = { chunks: 0, bytes: 0, keptByGrace: 0, keptByTouch: 0 };
      const show = () => {
        report.s3Chunks = s3.chunks;
        report.s3Bytes = s3.bytes;
        report.keptByGrace = s3.keptByGrace;
        report.keptByTouch = s3.keptByTouch;
      };
      try {
        await sweepS3(
          ds,
          {
            client,
            policy,
            fence: fence as NonNullable<typeof fence>,
            runId: opts.runId,
            marked: mark.file,
            cutoffMs: skip.cutoffMs,
            apply: opts.apply,
            leaseMs: deps.claimLeaseMs ?? DEFAULT_LEASE_MS,
            signal: opts.signal,
            progress: (done) => {
              show();
              progress(done);
            },
          },
          s3,
        );
      } finally {
        show();
      }
      if (opts.apply) {
        marked.close();
        marked = undefined;
        // A fresh mark, made before the verifying LIST starts: indexes written meanwhile have their chunks in S3.
        const again = await markDatastore(ds, {
          client,
          policy,
          dir,
          name: `verify-${opts.runId}`,
          runBytes: deps.runBytes,
          signal: opts.signal,
          progress: (_p, done, total) => (report.phase === 'verify' ? progress(done, total) : phase('verify', total)),
        });
        await verifyChunks(ds, again.file, { client, policy, signal: opts.signal, progress: (done) => progress(done) });
      }
    }
    report.phase = 'done';
  } catch (err) {
    const abort = err instanceof GcAbort ? err : undefined;
    report.phase = abort?.outcome ?? 'failed';
    if (report.phase === 'failed') {
      report.error = abort ? abort.message : `GC of ${ds.name} failed: ${(err as Error)?.message ?? String(err)}`;
      log.error('GC run failed', { store: ds.name, runId: opts.runId, error: report.error });
    }
  } finally {
    marked?.close();
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
  report.finishedAt = Date.now();
  report.done = report.total ?? report.done;
  emit();
  return { ...report };
}

/** Why S3 must not be swept now, or the cutoff to sweep it with. */
async function s3SkipReason(
  deps: GcEngineDeps,
  ds: ResolvedDatastore,
  indexes: number,
  startedAt: number,
  writerAtStart: number | undefined,
  grace: number,
  apply: boolean,
): Promise<string | { cutoffMs: number }> {
  if (!ds.owned) return 'not owned by Larder';
  const fence = deps.fence;
  if (!fence) return 'no writer fence (GcEngineDeps.fence): S3 is swept only with writers fenced';
  // An empty mark is far more likely a wrong prefix or a lost listing than a datastore whose every chunk is garbage.
  if (indexes === 0) return 'no indexes found: S3 is never swept on an empty mark';
  const writerNow = await fence.oldestWriter(ds.name);
  const cutoffMs = Math.min(startedAt, writerAtStart ?? Infinity, writerNow ?? Infinity) - grace;
  const epoch = await fence.touchEpoch(ds.name);
  if (epoch === undefined) {
    // Every writer touches from now on: the record is complete from now, and S3 is swept once that is a grace period ago.
    if (apply && fence.startTouchEpoch) await fence.startTouchEpoch(ds.name);
    return `the touch record of ${ds.name} is missing (new, or Redis lost it)${apply && fence.startTouchEpoch ? ', started now' : ''}: S3 is swept once it is older than the grace period`;
  }
  if (epoch > cutoffMs) return `the touch record of ${ds.name} is younger than the grace period (since ${new Date(epoch).toISOString()}): S3 is swept once it is older`;
  return { cutoffMs };
}
