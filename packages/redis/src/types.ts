/** Options for {@link createRedis}; build them from a config with `redisOptionsFrom` so that no field is forgotten. */
export interface RedisOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379` or `rediss://user:pass@host:6380/0`. */
  url: string;
  /** ACL user and password; they win over those in the URL. */
  username?: string | undefined;
  password?: string | undefined;
  /** TLS with these PEM files (read when connecting); also implied by a `rediss://` URL. */
  tls?: { caFile?: string | undefined; certFile?: string | undefined; keyFile?: string | undefined; servername?: string | undefined } | undefined;
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

/**
 * The index epoch marker, written in the same atomic step as a rebuilt index. When it is missing the index was
 * lost (FLUSHALL, a restart without persistence, an evicted key) and must be rebuilt from the volume.
 */
export interface IndexEpoch {
  /** Random id of this build of the index. */
  id: string;
  /** Id of the volume the index describes. */
  volume: string;
  /** When the build was committed (ms since the epoch). */
  builtAtMs: number;
}

/** What {@link ChunkIndex.probe} reads in one round trip. */
export interface IndexProbe {
  /** The epoch marker, or undefined when the index was lost or never built. */
  epoch: IndexEpoch | undefined;
  /** The Redis server's run_id (changes when the server restarts). */
  runId: string | undefined;
}

/** A chunk found on the volume, for {@link IndexRebuild.add}. */
export interface RebuildChunk {
  key: string;
  size: number;
  /** Last use in ms, from the file's times (becomes its recency score). */
  lastUsedMs: number;
}
