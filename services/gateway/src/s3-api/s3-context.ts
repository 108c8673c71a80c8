import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessKey, Config, ResolvedDatastore } from '@larder/config';
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
  ds: ResolvedDatastore;
  upstream: UpstreamPool;
  stats: S3EndpointStats;
  chunkObjects: ChunkObjects | undefined;
}

/** A request for an object: its client key. */
export interface ObjectContext extends BucketContext {
  key: string;
}

/** The upstream key of a client key: `<prefix>/<key>` in the datastore's bucket. */
export function upstreamKey(ds: ResolvedDatastore, key: string): string {
  return ds.prefix ? `${ds.prefix}/${key}` : key;
}

/** The client key of an upstream key, or undefined when it lies outside the datastore's prefix. */
export function clientKey(ds: ResolvedDatastore, key: string): string | undefined {
  if (!ds.prefix) return key;
  return key.startsWith(`${ds.prefix}/`) ? key.slice(ds.prefix.length + 1) : undefined;
}

/** A request header as one string. */
export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}
