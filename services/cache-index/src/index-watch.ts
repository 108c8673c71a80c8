import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RedisUnavailableError, type ChunkIndex, type IndexTotals } from '@larder/redis';
import { createLogger } from '@larder/telemetry';
import type { Volume } from '@larder/volume';
import type { Evictor } from './evictor.js';

const log = createLogger('cache-index');

/** How often the index epoch marker and Redis's run_id are checked. */
export const INDEX_CHECK_INTERVAL_MS = 1_000;
/** A rebuild because the index describes another volume (two volumes on one namespace) happens at most this often. */
const FOREIGN_REBUILD_INTERVAL_MS = 60_000;
const REBUILD_BATCH = 500;

/** `ready`: the index describes this volume; `rebuilding`: it is being rebuilt from the volume; `redis-unavailable`: Redis cannot be reached. */
export type IndexState = 'starting' | 'ready' | 'rebuilding' | 'redis-unavailable';

/** What the last rebuild did. */
export interface RebuildReport extends IndexTotals {
  reason: string;
  /** Chunks admitted to the live index while the rebuild ran, kept by the commit. */
  merged: number;
  durationMs: number;
  finishedAtMs: number;
}

/** The index's health as the cache-index's status reports it. */
export interface IndexHealth {
  state: IndexState;
  /** Why Redis is unavailable (when it is). */
  error?: string;
  /** When the index in Redis was last rebuilt from the volume (ms since the epoch). */
  builtAtMs?: number;
  lastRebuild?: RebuildReport;
}

/**
 * The id of the volume the index describes, kept in `<volume>/<namespace>/volume-id` (made once): the epoch marker
 * names it, so an index built for another volume (or a wiped volume) is noticed.
 */
export async function volumeId(volume: Volume): Promise<string> {
  const file = path.join(path.dirname(volume.dir), 'volume-id');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await volume.filesystem(); // makes the volume's directories
  await writeFile(file, `${randomUUID()}\n`, { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  return (await readFile(file, 'utf8')).trim();
}

/**
 * Notices within seconds that Redis lost the index and rebuilds it from the volume. Every second it reads the index
 * epoch marker (written atomically with a rebuilt index, naming this volume) and Redis's run_id: a missing marker
 * (FLUSHALL, a restart without persistence, an evicted key) or one naming another volume means a rebuild; a new
 * run_id with the marker present (a restart that kept its data, possibly stale) means a reconcile. A rebuild lists
 * the volume (recency from file times) into temporary keys and replaces the index in one atomic step, with eviction
 * paused meanwhile; reads never wait for it (the gateway serves hits from the volume).
 */
export class IndexWatch {
  private health: IndexHealth = { state: 'starting' };
  private runId: string | undefined;
  private lastForeignRebuild = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private checking: Promise<void> | undefined;

  constructor(
    private readonly deps: {
      index: ChunkIndex;
      volume: Volume;
      volumeId: string;
      evictor: Evictor;
      /** Runs `fn` alone among the cache-index's maintenance tasks (rebuild, reconcile). */
      exclusive: <T>(fn: () => Promise<T>) => Promise<T>;
      reconcile: () => Promise<unknown>;
    },
  ) {}

  /** The index's health now. */
  get status(): IndexHealth {
    return { ...this.health };
  }

  /** Check once now (rebuilding or reconciling if needed), then every {@link INDEX_CHECK_INTERVAL_MS}. */
  async start(): Promise<void> {
    await this.check(true);
    const loop = () => {
      if (this.stopped) return;
      this.timer = setTimeout(() => void this.check(false).finally(loop), INDEX_CHECK_INTERVAL_MS);
      this.timer.unref();
    };
    loop();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /**
   * One check. At start a present marker for this volume means a reconcile (the index may have missed changes
   * while no cache-index ran); later it means nothing is to be done.
   */
  check(atStart = false): Promise<void> {
    this.checking ??= this.checkOnce(atStart).finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async checkOnce(atStart: boolean): Promise<void> {
    let probe;
    try {
      probe = await this.deps.index.probe();
    } catch (err) {
      this.unavailable(err);
      return;
    }
    if (this.health.state === 'redis-unavailable') log.info('cache index (Redis) reachable again');
    const restarted = this.runId !== undefined && probe.runId !== this.runId;
    this.runId = probe.runId;
    try {
      if (!probe.epoch) {
        const why = atStart
          ? 'no index epoch marker in Redis (a new or lost index)'
          : 'the index epoch marker vanished: Redis lost the index (FLUSHALL, a restart without persistence, or an evicted key)';
        await this.rebuild(restarted ? `Redis restarted; ${why}` : why, atStart);
      } else if (probe.epoch.volume !== this.deps.volumeId) {
        if (Date.now() - this.lastForeignRebuild < FOREIGN_REBUILD_INTERVAL_MS) return;
        this.lastForeignRebuild = Date.now();
        log.error('the index in Redis describes another volume: does another node use this namespace with its own volume?', {
          volume: this.deps.volume.dir,
          indexVolume: probe.epoch.volume,
          thisVolume: this.deps.volumeId,
        });
        await this.rebuild('the index described another volume');
      } else {
        this.health = { ...this.health, state: 'ready', builtAtMs: probe.epoch.builtAtMs };
        delete this.health.error;
        if (atStart || restarted) {
          if (restarted) log.warn('Redis restarted with its data (run_id changed): reconciling the index with the volume');
          await this.deps.exclusive(() => this.deps.reconcile());
        }
      }
    } catch (err) {
      if (err instanceof RedisUnavailableError) this.unavailable(err);
      else log.error('index check failed', { err });
    }
  }

  /** Rebuild the index from the volume now (eviction paused until the new index is in place). */
  rebuild(reason: string, quiet = false): Promise<RebuildReport> {
    return this.deps.exclusive(async () => {
      const { index, volume, evictor } = this.deps;
      (quiet ? log.info : log.warn)('rebuilding the cache index from the volume', { reason, volume: volume.dir });
      const started = Date.now();
      this.health = { ...this.health, state: 'rebuilding' };
      await evictor.pause();
      const rebuild = index.beginRebuild();
      try {
        let batch: { key: string; size: number; lastUsedMs: number }[] = [];
        for await (const f of volume.listChunks({ times: true })) {
          batch.push(f);
          if (batch.length >= REBUILD_BATCH) {
            await rebuild.add(batch);
            batch = [];
          }
        }
        if (batch.length > 0) await rebuild.add(batch);
        const done = await rebuild.commit(this.deps.volumeId);
        const report: RebuildReport = {
          reason,
          usedBytes: done.usedBytes,
          chunkCount: done.chunkCount,
          merged: done.merged,
          durationMs: Date.now() - started,
          finishedAtMs: Date.now(),
        };
        this.health = { state: 'ready', builtAtMs: done.epoch.builtAtMs, lastRebuild: report };
        log.info('rebuilt the cache index from the volume', { ...report });
        return report;
      } catch (err) {
        await rebuild.abort().catch(() => {});
        if (this.health.state === 'rebuilding') this.health = { ...this.health, state: 'starting' };
        throw err;
      } finally {
        evictor.resume();
        // The new totals may be above capacity: evict now rather than at the next timer.
        void evictor.run().catch(() => {});
      }
    });
  }

  private unavailable(err: unknown): void {
    const error = err instanceof Error ? err.message : String(err);
    if (this.health.state !== 'redis-unavailable') log.warn('cache index (Redis) unavailable; hits are still served, misses answer 503 until it is back', { err: error });
    this.health = { ...this.health, state: 'redis-unavailable', error };
  }
}
