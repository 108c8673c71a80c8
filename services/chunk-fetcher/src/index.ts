export { startChunkFetcher } from './fetcher-service.js';
export type { ChunkFetcher } from './fetcher-service.js';
export { FetchWorker } from './fetch-worker.js';
