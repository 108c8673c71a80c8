import type { ServerResponse } from 'node:http';
import { resolveDatastores, type AccessKey, type Config } from '@larder/config';
import { keySeesBucket } from './s3-auth.js';
import type { BucketContext } from './s3-context.js';
import { S3ApiError } from './s3-errors.js';
import { sendXml, sendXmlText } from './s3-response.js';
import { escapeXml, S3_XMLNS } from './xml.js';
import { upstreamError } from './upstream.js';

/** When the endpoint started: the creation date its buckets are listed with (they are configured, not created). */
const STARTED = new Date().toISOString();

/** ListBuckets: the client buckets of the configured datastores that the key may see. */
export function listBuckets(res: ServerResponse, config: Config, key: AccessKey): void {
  const buckets = resolveDatastores(config)
    .map((d) => d.clientBucket)
    .filter((b): b is string => b !== undefined && keySeesBucket(key, b))
    .sort();
  sendXml(res, 200, 'ListAllMyBucketsResult', {
    Owner: { ID: key.accessKeyId, DisplayName: key.accessKeyId },
    Buckets: { Bucket: buckets.map((b) => ({ Name: b, CreationDate: STARTED })) },
  });
}

/** HeadBucket: the datastore's bucket as S3 answers for it. */
export async function headBucket(ctx: BucketContext): Promise<void> {
  const up = await ctx.upstream.request(ctx.ds, { method: 'HEAD' });
  if ((up.statusCode ?? 0) >= 300) throw await upstreamError(up, 'NoSuchBucket');
  up.resume();
  ctx.res.writeHead(200, { 'x-amz-bucket-region': ctx.ds.region });
  ctx.res.end();
}

/** GetBucketLocation: the datastore's region (empty for us-east-1, as S3 answers). */
export function bucketLocation(ctx: BucketContext): void {
  const region = ctx.ds.region === 'us-east-1' ? '' : ctx.ds.region;
  sendXmlText(ctx.res, 200, `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="${S3_XMLNS}">${escapeXml(region)}</LocationConstraint>`);
}

/** GetBucketVersioning: never enabled through Larder (an empty configuration, as S3 answers for a bucket that never had it). */
export function bucketVersioning(ctx: BucketContext): void {
  sendXml(ctx.res, 200, 'VersioningConfiguration', {});
}

/** CreateBucket of a configured bucket: it is there already (clients such as rclone create before they write). */
export function createBucket(ctx: BucketContext): never {
  throw new S3ApiError('BucketAlreadyOwnedByYou', `bucket ${ctx.bucket} is configured as datastore ${ctx.ds.name}`);
}
