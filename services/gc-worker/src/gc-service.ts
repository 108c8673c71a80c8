import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  Svcm,
  abandonedReport,
  decodeJson,
  gcStoreStatus,
  encodeJson,
  subjects,
  type GcCancelReply,
  type GcCancelRequest,
  type GcReport,
  type GcRunReply,
  type GcRunRequest,
  type GcStatus,
  type NatsConnection,
  type ServiceMsg,
} from '@larder/bus';
import { resolveDatastore, type Config } from '@larder/config';
import { gcLastDuration, gcLastRunTimestamp, gcReclaimedBytes, gcReclaimedChunks, gcRuns } from '@larder/metrics';
import { GcRuns, type ChunkIndex, type Redis } from '@larder/redis';
import { createLogger } from '@larder/telemetry';
import type { Volume } from '@larder/volume';
import { newGcReport } from './gc-report.js';
import type { GcEngine } from './gc-types.js';

const log = createLogger('gc-worker');

/** The lease of a datastore's GC: a worker that dies holds it at most this long. */
export const DEFAULT_LEASE_MS = 30_000;
/** How often the worker looks whether a scheduled GC (`datastores.*.gcEvery`) is due. */
export const DEFAULT_SCHEDULE_CHECK_MS = 60_000;
/** How often a running GC looks for a cancel request (which may arrive at another worker). */
const CANCEL_POLL_MS = 500;
/** A run's progress is written to Redis at each phase change and at most this often within a phase. */
const PERSIST_INTERVAL_MS = 1000;
/** How long `stop()` waits for cancelled runs to reach a safe point. */
const STOP_WAIT_MS = 15_000;

/** Options of {@link startGcWorker}. */
export interface GcWorkerDeps {
  nc: NatsConnection;
  redis: Redis;
  index: ChunkIndex;
  volume: Volume;
  config: () => Config;
  engine: GcEngine;
  /** Lease of a datastore's GC, renewed every third of it (default 30 s). */
  leaseMs?: number;
  /** How often the schedule is checked (default 60 s). */
  scheduleCheckMs?: number;
}

/** A running GC worker. */
export interface GcWorker {
  /** Who this worker is in reports and refusals (`host:pid:id`). */
  readonly id: string;
  /** Start GC of one datastore (or, without `store`, of every datastore); see the `gcRun` endpoint. */
  run(req: GcRunRequest): Promise<GcRunReply>;
  status(): Promise<GcStatus>;
  cancel(req: GcCancelRequest): Promise<GcCancelReply>;
  /** Check the schedule now (as the timer does). */
  checkSchedule(): Promise<void>;
  /** Cancel this worker's runs, wait (bounded) for them to end, and stop answering. */
  stop(): Promise<void>;
}

/** A datastore's run on this worker. */
interface ActiveRun {
  store: string;
  token: string;
  /** Its report when it was queued, and its latest. */
  readonly first: GcReport;
  report: GcReport;
  controller: AbortController;
  /** Why it was stopped from here (lost lease), if so. */
  lost?: string;
  done: Promise<GcReport>;
}

const TERMINAL = new Set(['done', 'failed', 'cancelled']);

/** A report of a run that has not started its first phase. */
function queuedReport(store: string, runId: string, apply: boolean, worker: string): GcReport {
  return { ...newGcReport({ store, runId, apply }, 'queued'), worker };
}

/**
 * Start a GC worker: answers `gcRun`, `gcStatus` and `gcCancel` on the NATS services API (queue group: one of
 * several workers answers each request), runs the GC engine one datastore at a time, publishes `gcProgress`, and runs
 * scheduled GCs (`datastores.*.gcEvery`). One GC per datastore cluster-wide, held by a lease in Redis (GcRuns).
 */
export async function startGcWorker(deps: GcWorkerDeps): Promise<GcWorker> {
  const cfg0 = deps.config();
  const subj = subjects(cfg0.namespace);
  const leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
  const runs = new GcRuns<GcReport>(deps.redis, cfg0.namespace);
  const active = new Map<string, ActiveRun>();
  // Runs go one at a time on a worker: GC reads every index and lists the bucket; several workers spread datastores.
  let queue: Promise<unknown> = Promise.resolve();
  let stopping = false;

  const service = await new Svcm(deps.nc).add({
    name: subj.gcService,
    version: '0.1.0',
    description: 'Larder gc-worker: mark and sweep of unreferenced chunks, in the cache and in owned datastores',
    queue: subj.gcService,
    statsHandler: async () => ({ running: [...active.values()].map((r) => ({ store: r.store, runId: r.report.runId, phase: r.report.phase })) }),
  });
  const id = `${hostname()}:${process.pid}:${service.info().id.slice(-6)}`;

  const publish = (report: GcReport) => {
    try {
      deps.nc.publish(subj.gcProgress, encodeJson(report));
    } catch {
      // closed or draining: nobody hears progress any more
    }
  };

  const settleAbandoned = async (store: string, abandoned: GcReport) => {
    const report = abandonedReport(abandoned);
    log.warn('a GC run was abandoned by its worker', { store, runId: report.runId, worker: report.worker, phase: abandoned.phase });
    gcRuns.inc({ store, result: 'abandoned' });
    await runs.setLast(store, report).catch((err: Error) => log.warn('cannot record the abandoned run', { store, err: err.message }));
  };

  const recordMetrics = (r: GcReport) => {
    gcRuns.inc({ store: r.store, result: r.phase });
    const end = r.finishedAt ?? Date.now();
    gcLastRunTimestamp.set({ store: r.store }, end / 1000);
    gcLastDuration.set({ store: r.store }, Math.max(0, end - r.startedAt) / 1000);
    if (!r.apply) return;
    gcReclaimedChunks.inc({ store: r.store, where: 'cache' }, r.cacheChunks);
    gcReclaimedBytes.inc({ store: r.store, where: 'cache' }, r.cacheBytes);
    gcReclaimedChunks.inc({ store: r.store, where: 's3' }, r.s3Chunks);
    gcReclaimedBytes.inc({ store: r.store, where: 's3' }, r.s3Bytes);
  };

  /** Run the engine on one datastore (its turn in the queue) and end the run. */
  const execute = async (run: ActiveRun): Promise<GcReport> => {
    const { store, controller } = run;
    let lastPersist = 0;
    let lastPhase = run.report.phase;
    const onProgress = (r: GcReport) => {
      if (TERMINAL.has(r.phase)) return;
      run.report = { ...r, worker: id };
      publish(run.report);
      const now = Date.now();
      if (r.phase !== lastPhase || now - lastPersist >= PERSIST_INTERVAL_MS) {
        lastPhase = r.phase;
        lastPersist = now;
        void runs.progress(store, run.token, run.report).catch(() => {});
      }
    };
    let final: GcReport;
    const ds = resolveDatastore(deps.config(), store);
    if (controller.signal.aborted) final = { ...run.report, phase: 'cancelled' };
    else if (!ds) final = { ...run.report, phase: 'failed', error: `datastore ${store} is no longer in the config` };
    else {
      try {
        final = await deps.engine.runDatastore(ds, { runId: run.report.runId, apply: run.report.apply, signal: controller.signal, onProgress });
      } catch (err) {
        // The engine promises never to reject; if it does, the run failed all the same.
        final = { ...run.report, phase: 'failed', error: (err as Error).message };
      }
    }
    if (run.lost) final = { ...final, phase: 'failed', error: final.error ?? run.lost };
    final = { ...final, store, runId: run.report.runId, apply: run.report.apply, startedAt: run.report.startedAt, finishedAt: final.finishedAt ?? Date.now(), worker: id };
    run.report = final;
    const ended = await runs.end(store, run.token, final).catch((err: Error) => {
      log.warn('cannot record the end of a GC run', { store, runId: final.runId, err: err.message });
      return false;
    });
    if (!ended) log.warn('another GC run of the datastore began before this one ended; its report is not the last one', { store, runId: final.runId });
    recordMetrics(final);
    publish(final);
    log.info('GC run ended', { store, runId: final.runId, apply: final.apply, phase: final.phase, cacheChunks: final.cacheChunks, s3Chunks: final.s3Chunks, error: final.error });
    return final;
  };

  /** Take the datastore's lease and queue its run; a reason when it cannot start. */
  const start = async (store: string, apply: boolean, appliedBefore = 0): Promise<ActiveRun | string> => {
    if (stopping) return 'the gc-worker is stopping';
    if (!resolveDatastore(deps.config(), store)) return `no datastore named ${store}`;
    const mine = active.get(store);
    if (mine) return `already running on ${id} (run ${mine.report.runId}, phase ${mine.report.phase})`;
    const report = queuedReport(store, randomUUID(), apply, id);
    const begun = await runs.begin(store, { worker: id, runId: report.runId, startedAt: report.startedAt, apply }, report, leaseMs, appliedBefore);
    if (!begun.begun) {
      if ('heldBy' in begun) return `already running on ${begun.heldBy.worker} (run ${begun.heldBy.runId})`;
      return `an applied run started at ${new Date(begun.recentAt).toISOString()}`;
    }
    if (begun.abandoned && begun.abandoned.runId !== report.runId) await settleAbandoned(store, begun.abandoned);
    const controller = new AbortController();
    const run: ActiveRun = { store, token: begun.token, first: report, report, controller, done: Promise.resolve(report) };
    active.set(store, run);
    // Keep the lease while queued and running, and look for cancel requests from other workers.
    let renewedAt = Date.now();
    let ticks = 0;
    const renewEvery = Math.max(1, Math.floor(leaseMs / 3 / CANCEL_POLL_MS));
    const timer = setInterval(
      () => {
        ticks++;
        void (async () => {
          if (ticks % renewEvery === 0) {
            const held = await runs.renew(store, run.token, leaseMs).catch(() => undefined);
            if (held) renewedAt = Date.now();
            else if (held === false || Date.now() - renewedAt >= leaseMs) {
              run.lost ??= 'the run lost its lease (Redis unreachable or too slow to renew): stopped, so that another run may begin';
              controller.abort(new Error(run.lost));
            }
          }
          if (await runs.cancelRequested(store, run.report.runId).catch(() => false)) controller.abort(new Error('cancelled'));
        })();
      },
      Math.min(CANCEL_POLL_MS, leaseMs / 3),
    );
    timer.unref();
    run.done = queue
      .then(() => execute(run))
      .finally(() => {
        clearInterval(timer);
        active.delete(store);
      });
    queue = run.done.catch(() => {});
    publish(report);
    log.info('GC run queued', { store, runId: report.runId, apply });
    return run;
  };

  const storesOf = (store: string | undefined) => (store !== undefined ? [store] : Object.keys(deps.config().datastores).sort());

  const run = async (req: GcRunRequest): Promise<GcRunReply> => {
    const started: ActiveRun[] = [];
    const refused: GcRunReply['refused'] = [];
    for (const store of storesOf(req.store)) {
      const r = await start(store, req.apply === true);
      if (typeof r === 'string') refused.push({ store, reason: r });
      else started.push(r);
    }
    const runs = req.wait ? await Promise.all(started.map((r) => r.done)) : started.map((r) => r.first);
    return { runs, refused };
  };

  const status = async (): Promise<GcStatus> => {
    const stores = [...new Set([...Object.keys(deps.config().datastores), ...active.keys()])].sort();
    const out: GcStatus = { running: [], last: [] };
    for (const rec of await runs.read(stores)) {
      const s = gcStoreStatus(rec);
      // This worker's own runs: its report in memory is fresher than the one in Redis.
      const running = active.get(rec.store)?.report ?? s.running;
      if (running) out.running.push(running);
      if (s.last) out.last.push(s.last);
    }
    return out;
  };

  const cancel = async (req: GcCancelRequest): Promise<GcCancelReply> => {
    const cancelled: GcCancelReply['cancelled'] = [];
    for (const rec of await runs.read(storesOf(req.store))) {
      const mine = active.get(rec.store);
      if (mine) {
        mine.controller.abort(new Error('cancelled'));
        cancelled.push({ store: rec.store, runId: mine.report.runId, worker: id });
      } else if (rec.holder) {
        await runs.requestCancel(rec.store, rec.holder.runId);
        cancelled.push({ store: rec.store, runId: rec.holder.runId, worker: rec.holder.worker });
      }
    }
    return { cancelled };
  };

  const checkSchedule = async () => {
    const config = deps.config();
    for (const [store, ds] of Object.entries(config.datastores)) {
      if (ds.gcEvery === undefined || active.has(store) || stopping) continue;
      const r = await start(store, true, Date.now() - ds.gcEvery).catch((err: Error) => `Redis: ${err.message}`);
      if (typeof r !== 'string') log.info('scheduled GC started', { store, runId: r.report.runId, every: ds.gcEvery });
    }
  };
  let scheduleTimer: NodeJS.Timeout | undefined;
  const scheduleNext = () => {
    if (stopping) return;
    scheduleTimer = setTimeout(() => void checkSchedule().finally(scheduleNext), deps.scheduleCheckMs ?? DEFAULT_SCHEDULE_CHECK_MS);
    scheduleTimer.unref();
  };
  scheduleNext();

  // The last-run gauges start from the records in Redis, so that a restarted worker shows them at once.
  await runs
    .read(Object.keys(cfg0.datastores))
    .then((recs) => {
      for (const rec of recs) {
        const last = gcStoreStatus(rec).last;
        if (!last?.finishedAt) continue;
        gcLastRunTimestamp.set({ store: rec.store }, last.finishedAt / 1000);
        gcLastDuration.set({ store: rec.store }, Math.max(0, last.finishedAt - last.startedAt) / 1000);
      }
    })
    .catch(() => {});

  /** Answer a request with `fn`'s result, or with a clear error. */
  const answer = <Q, A>(what: string, parse: (data: Uint8Array) => Q, fn: (req: Q) => Promise<A | { error: number; message: string }>) => {
    return (err: Error | null, msg: ServiceMsg) => {
      if (err) return log.error(`${what} endpoint stopped`, { err });
      let req: Q;
      try {
        req = parse(msg.data);
      } catch (e) {
        msg.respondError(400, `bad ${what} request: ${(e as Error).message}`);
        return;
      }
      void fn(req).then(
        (r) => {
          if (r && typeof r === 'object' && 'error' in r && typeof r.error === 'number') msg.respondError(r.error, (r as { message: string }).message);
          else msg.respond(encodeJson(r));
        },
        (e: Error) => msg.respondError(503, `${what} failed: ${e.message}`),
      );
    };
  };
  const body = <T extends object>(data: Uint8Array, check: (v: Record<string, unknown>) => string | undefined): T => {
    const v = data.byteLength ? decodeJson<unknown>(data) : {};
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('expected a JSON object');
    const problem = check(v as Record<string, unknown>);
    if (problem) throw new Error(problem);
    return v as T;
  };
  const storeField = (v: Record<string, unknown>) => (v.store !== undefined && (typeof v.store !== 'string' || v.store === '') ? '"store" must be a datastore name' : undefined);

  service.addEndpoint('run', {
    subject: subj.gcRun,
    handler: answer(
      'gc run',
      (d) =>
        body<GcRunRequest>(
          d,
          (v) => storeField(v) ?? (['apply', 'wait'].find((k) => v[k] !== undefined && typeof v[k] !== 'boolean') ? '"apply" and "wait" must be true or false' : undefined),
        ),
      async (req) => {
        if (req.store === undefined && Object.keys(deps.config().datastores).length === 0) return { error: 404, message: 'no datastores are configured' };
        if (req.store !== undefined && !resolveDatastore(deps.config(), req.store)) return { error: 404, message: `no datastore named ${req.store}` };
        const reply = await run(req);
        // One datastore asked for and refused: an error, not an empty list.
        if (req.store !== undefined && reply.runs.length === 0) return { error: 409, message: `GC of ${req.store}: ${reply.refused[0]?.reason ?? 'refused'}` };
        return reply;
      },
    ),
  });
  service.addEndpoint('status', {
    subject: subj.gcStatus,
    handler: answer(
      'gc status',
      (d) => body<object>(d, () => undefined),
      () => status(),
    ),
  });
  service.addEndpoint('cancel', {
    subject: subj.gcCancel,
    handler: answer(
      'gc cancel',
      (d) => body<GcCancelRequest>(d, storeField),
      async (req) => {
        if (req.store !== undefined && !resolveDatastore(deps.config(), req.store)) return { error: 404, message: `no datastore named ${req.store}` };
        return cancel(req);
      },
    ),
  });
  // Requests sent right after start (tests, the CLI after `pnpm start`) find the endpoints subscribed.
  await deps.nc.flush();
  log.info('gc-worker started', { id, leaseMs });

  return {
    id,
    run,
    status,
    cancel,
    checkSchedule,
    stop: async () => {
      if (stopping) return;
      stopping = true;
      clearTimeout(scheduleTimer);
      await service.stop().catch(() => {});
      const running = [...active.values()];
      for (const r of running) r.controller.abort(new Error('the gc-worker is stopping'));
      await Promise.race([Promise.allSettled(running.map((r) => r.done)), new Promise((r) => setTimeout(r, STOP_WAIT_MS).unref())]);
    },
  };
}
