/**
 * The protocol that keeps GC of an owned datastore from deleting a chunk a writer relies on (issue 12). A chunk's last
 * "touch" is its score in the known-chunk record (`{ns}:known:<store>`, see KnownChunks): writers through Larder
 * (the S3 endpoint, `larder import`, `larder push-casync`) touch every chunk BEFORE they upload it or skip it as known.
 * GC deletes a chunk only when it claimed it first, atomically, and a claim succeeds only when the last touch is older
 * than the cutoff (min(GC start, oldest running writer's start) − grace). A writer that finds a chunk claimed waits for
 * the claim to end, then uploads. Implemented by `ChunkTouches` (chunk-touches.ts).
 */

/** What a writer must do with a chunk after {@link WriterTouches.touch}. */
export type TouchResult =
  /** In S3 (recorded within the trust time): skip the upload; the touch is recorded. */
  | 'known'
  /** Not known to be in S3: upload it; the touch is recorded, so GC will not claim it. */
  | 'upload'
  /** GC claimed it and is deleting it: wait until the claim ends (`awaitUnclaimed`), then touch again. */
  | 'claimed';

/** A running writer, registered so that GC's cutoff stays before its start; renew it until `end()`. */
export interface WriterRegistration {
  readonly id: string;
  readonly startedAt: number;
  end(): Promise<void>;
}

/** The writers' side. */
export interface WriterTouches {
  /** Register a writer of `store` (heartbeat kept by the implementation until `end`). */
  beginWriter(store: string, name: string): Promise<WriterRegistration>;
  /** Touch these chunks now, atomically with the check for GC claims. Rejects when Redis cannot record it (an owned datastore's write must then fail). */
  touch(store: string, digests: readonly string[], trustMs: number): Promise<TouchResult[]>;
  /** Resolve once none of `digests` is claimed any more (or reject after `timeoutMs`). */
  awaitUnclaimed(store: string, digests: readonly string[], timeoutMs: number): Promise<void>;
}

/** The GC's side. */
export interface GcFence {
  /** Start of the oldest writer of `store` still running (heartbeat alive), if any. */
  oldestWriter(store: string): Promise<number | undefined>;
  /** Since when the touch record of `store` is complete (set when first written; gone after Redis lost its data): no S3 sweep unless older than the cutoff. */
  touchEpoch(store: string): Promise<number | undefined>;
  /** Claim for deletion the digests whose last touch is before `cutoffMs` (or that were never touched); returns those claimed. */
  claim(store: string, runId: string, digests: readonly string[], cutoffMs: number, leaseMs: number): Promise<string[]>;
  /** Extend this run's claims (while a DeleteObjects is outstanding). */
  renew(store: string, runId: string, leaseMs: number): Promise<void>;
  /** End claims: `deleted` are gone from S3 (forgotten by the known record too), `kept` were not deleted and are released. */
  release(store: string, runId: string, deleted: readonly string[], kept: readonly string[]): Promise<void>;
}
