export { s3ClientFor, destroyS3Clients } from './client.js';
export { chunkObjectKey, indexFolder, indexObjectKey, isSafeObjectName } from './keys.js';
export { S3Error, classifyS3Error } from './errors.js';
export type { S3ErrorKind } from './errors.js';
export { withRetry, DEFAULT_RETRY } from './retry.js';
export type { RetryPolicy } from './retry.js';
export { getObjectBytes, putObjectBytes, headObjectSize, listObjects } from './objects.js';
export { ensureBucket } from './buckets.js';
export type { S3Client } from '@aws-sdk/client-s3';
