import type { GcReport, NatsConnection } from '@larder/bus';
import type { Config, ResolvedDatastore } from '@larder/config';
import type { ChunkIndex, GcFence, Redis } from '@larder/redis';
import type { Volume } from '@larder/volume';

/** What a GC engine needs: the node's connections and the current config. */
export interface GcEngineDeps {
  nc: NatsConnection;
  redis: Redis;
  index: ChunkIndex;
  volume: Volume;
  config: () => Config;
  /**
   * The writers' fence (default: `ChunkTouches` of @larder/redis on `redis`); an owned datastore's S3 is swept only through it.
   * With `startTouchEpoch`, an applied run that finds no touch epoch starts it (a store nobody writes to gets one).
   */
  fence?: GcFence & { startTouchEpoch?(store: string): Promise<number> };
  /** Digest bytes sorted in memory per run of the mark's external sort (default 32 MiB; tests use less). */
  runBytes?: number;
  /** How long a claim lives unless renewed (default 60 s). */
  claimLeaseMs?: number;
}

/** One run of one datastore. */
export interface GcRunOptions {
  runId: string;
  /** false: a dry run, which changes nothing and reports what would go. */
  apply: boolean;
  /** Aborted by `larder gc cancel` or shutdown: the run stops at the next safe point and reports phase `cancelled`. */
  signal: AbortSignal;
  /** Called as the run moves (phase changes, and at most every few hundred ms within a phase). */
  onProgress: (report: GcReport) => void;
}

/**
 * Mark and sweep of one datastore: list and parse every index, remove unreferenced chunks from the cache, and (owned
 * datastores only) delete unreferenced chunks from S3 under the grace and writer-touch rules, then verify.
 * Resolves with the final report (phase done, failed or cancelled); never rejects.
 */
export interface GcEngine {
  runDatastore(store: ResolvedDatastore, opts: GcRunOptions): Promise<GcReport>;
}
