/** Options for {@link createRedis}. */
export interface RedisOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379` or `rediss://user:pass@host:6380/0`. */
  url: string;
  /** TCP connect timeout per attempt in ms (default 3000). */
  connectTimeoutMs?: number;
}

/** Outcome of {@link ChunkIndex.admit}. */
export interface AdmitResult {
  /** True if the chunk was new; false if it was already present (only its recency was refreshed). */
  admitted: boolean;
  /** Total bytes of all chunks in the index after the call. */
  usedBytes: number;
  /** Number of chunks in the index after the call. */
  chunkCount: number;
}

/** Outcome of {@link ChunkIndex.admitFetched}. */
export interface AdmitFetchedResult extends AdmitResult {
  /** True if the fetcher's lock was still its own and is now released; false if it had expired or changed hands. */
  lockReleased: boolean;
}

/** A chunk key with its size in bytes (as returned by eviction and scans). */
export interface EvictedChunk {
  key: string;
  size: number;
}

/** Totals of an index. */
export interface IndexTotals {
  usedBytes: number;
  chunkCount: number;
}
