export type { Redis } from 'ioredis';
export type { AdmitFetchedResult, AdmitResult, EvictedChunk, IndexEpoch, IndexProbe, IndexTotals, RebuildChunk, RedisOptions } from './types.js';
export { createRedis } from './connection.js';
export { ChunkIndex, IndexRebuild } from './chunk-index.js';
export { FlightLocks } from './flight-locks.js';
export { IndexError, IndexScriptCode, RedisUnavailableError, isConnectionFailure } from './errors.js';
