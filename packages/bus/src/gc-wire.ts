/** Phases of one datastore's GC run, in order; the last three end it. */
export type GcPhase = 'queued' | 'listing' | 'mark' | 'sweep-cache' | 'sweep-s3' | 'verify' | 'done' | 'failed' | 'cancelled';

/** `gcRun` request: GC one datastore (`store`) or every datastore; a dry run (`apply` false, the default) changes nothing. */
export interface GcRunRequest {
  store?: string;
  apply?: boolean;
  /** Answer at once with the runs started (default), or only when they ended. */
  wait?: boolean;
}

/** `gcCancel` request: cancel the running GC of `store` (or of every datastore). */
export interface GcCancelRequest {
  store?: string;
}

/** One datastore's GC run as the GC worker reports it (`gcStatus`, `gcRun` replies, `gcProgress` events). */
export interface GcReport {
  store: string;
  /** Unique per run. */
  runId: string;
  apply: boolean;
  phase: GcPhase;
  /** Epoch ms. */
  startedAt: number;
  finishedAt?: number;
  /** Progress of the current phase (items: index files, chunks), for a progress bar. */
  done: number;
  total?: number;
  /** Indexes read by the mark and the distinct chunks they reference. */
  indexes: number;
  referenced: number;
  /** Cached chunks no index references: removed from the cache (or, in a dry run, that would be). */
  cacheChunks: number;
  cacheBytes: number;
  /** Chunk objects in S3 no index references: deleted (or, dry run, deletable); kept because of the grace period or a writer's touch. */
  s3Chunks: number;
  s3Bytes: number;
  keptByGrace: number;
  keptByTouch: number;
  /** Why S3 was not swept (not owned, touch record too young, …), when it was not. */
  s3Skipped?: string;
  /** Why the run failed (phase `failed`). */
  error?: string;
  /** The GC worker running it (its NATS service instance id), filled in by the worker. */
  worker?: string;
}

/** `gcRun` reply: the runs started (with `wait`, their final reports), and the datastores refused (already running, unknown). */
export interface GcRunReply {
  runs: GcReport[];
  refused: { store: string; reason: string }[];
}

/** `gcCancel` reply: the runs asked to stop (they stop at their next safe point and report phase `cancelled`). */
export interface GcCancelReply {
  cancelled: { store: string; runId: string; worker?: string }[];
}

/** `gcStatus` reply: the runs in progress and the last finished run per datastore. */
export interface GcStatus {
  running: GcReport[];
  last: GcReport[];
}
