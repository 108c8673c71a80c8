export { startChunkFetcher } from './fetcher-service.js';
export type { ChunkFetcher } from './fetcher-service.js';
export { ChunkLoader } from './chunk-loader.js';
export { FetchError } from './fetch-error.js';
export { FetchErrorCode } from './types.js';
export type { FetchRequest, FetchReply, FetchOutcome } from './types.js';
