export { startGateway } from './gateway.js';
export type { Gateway, GatewayDeps } from './gateway.js';
export { ChunkStore } from './chunk-store.js';
export { startS3Server } from './s3-api/s3-server.js';
export type { S3Server, S3ServerDeps } from './s3-api/s3-server.js';
export type { Authenticator } from './s3-api/s3-auth.js';
export type { ChunkObjects, ChunkObject, ChunkObjectInfo, ChunkUpload, ChunkPutResult } from './s3-api/chunk-objects.js';
export { S3ApiError, S3_ERROR_STATUS } from './s3-api/s3-errors.js';
