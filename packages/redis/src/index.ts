export type { Redis } from 'ioredis';
export type { AdmitFetchedResult, AdmitResult, EvictedChunk, IndexEpoch, IndexProbe, IndexTotals, RebuildChunk, RedisOptions } from './types.js';
export { createRedis } from './connection.js';
export { ChunkIndex, IndexRebuild } from './chunk-index.js';
export { FlightLocks } from './flight-locks.js';
export { IndexError, IndexScriptCode, RedisUnavailableError, isConnectionFailure } from './errors.js';
export { s3RequestCounts, s3RequestField } from './stats-fields.js';
export type { S3RequestOutcome } from './stats-fields.js';
