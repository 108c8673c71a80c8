export { startEmbeddedS3 } from './embedded-s3.js';
export type { EmbeddedS3, EmbeddedS3Options, S3Fault, S3ServerStats } from './types.js';
export { startEmbeddedS3Process } from './embedded-s3-process.js';
export type { EmbeddedS3Process } from './embedded-s3-process.js';
