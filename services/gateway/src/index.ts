export { startGateway } from './gateway.js';
export type { Gateway, GatewayDeps } from './gateway.js';
export { ChunkStore } from './chunk-store.js';
export { ChunkObjectStore } from './s3-api/chunk-object-store.js';
export type { ChunkObjectStoreDeps, ChunkObjectStats } from './s3-api/chunk-object-store.js';
export type { ChunkObjects, ChunkObject, ChunkObjectInfo, ChunkPutResult, ChunkUpload } from './s3-api/chunk-objects.js';
export { S3ApiError } from './s3-api/s3-errors.js';
