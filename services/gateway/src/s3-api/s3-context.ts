import type { IncomingMessage, ServerResponse } from 'node:http';
import { datastoreForClientKey, type AccessKey, type Config, type ResolvedDatastore } from '@larder/config';
import type { VerifiedRequest } from '@larder/s3';
import type { ChunkObjects } from './chunk-objects.js';
import type { S3Address } from './s3-request.js';
import type { S3EndpointStats } from './s3-stats.js';
import type { UpstreamPool } from './upstream.js';

/** One authenticated S3 request addressed to a client bucket, with what its operation needs. */
export interface BucketContext {
  req: IncomingMessage;
  res: ServerResponse;
  config: Config;
  verified: VerifiedRequest;
  accessKey: AccessKey;
  addr: S3Address;
  bucket: string;
  /** The datastore whose upstream bucket and connection serve the client bucket. */
  ds: ResolvedDatastore;
  upstream: UpstreamPool;
  stats: S3EndpointStats;
  chunkObjects: ChunkObjects | undefined;
}

/** A request for an object: its client key. */
export interface ObjectContext extends BucketContext {
  key: string;
}

/** A chunk object named by a client key: the datastore it lies in and its digest. */
export interface ChunkRef {
  ds: ResolvedDatastore;
  digest: string;
}

/**
 * The chunk a client key names (client keys are upstream keys), when it lies under the prefix of one of the bucket's
 * datastores and is a chunk key of that datastore's layout; undefined for every other key (passed through).
 */
export function chunkRef(ctx: BucketContext, key: string): ChunkRef | undefined {
  if (!ctx.chunkObjects) return undefined;
  const at = datastoreForClientKey(ctx.config, ctx.bucket, key);
  const digest = at ? ctx.chunkObjects.digestOf(at.ds, at.key) : undefined;
  return at && digest !== undefined ? { ds: at.ds, digest } : undefined;
}

/** A request header as one string. */
export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}
