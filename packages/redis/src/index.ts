export type { Redis } from 'ioredis';
export type { AdmitFetchedResult, AdmitResult, EvictedChunk, IndexTotals, RedisOptions } from './types.js';
export { createRedis } from './connection.js';
export { ChunkIndex } from './chunk-index.js';
export { FlightLocks } from './flight-locks.js';
export { IndexError, IndexScriptCode } from './errors.js';
export { s3RequestCounts, s3RequestField } from './stats-fields.js';
export type { S3RequestOutcome } from './stats-fields.js';
