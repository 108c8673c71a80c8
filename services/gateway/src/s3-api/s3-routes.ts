import type { ChunkObjects } from './chunk-objects.js';
import { chunkRef, type BucketContext, type ChunkRef, type ObjectContext } from './s3-context.js';
import { S3ApiError } from './s3-errors.js';
import { bucketLocation, bucketVersioning, createBucket, headBucket } from './bucket-ops.js';
import { listObjects } from './list-ops.js';
import { deleteObjects } from './delete-objects.js';
import { copyObject, deleteObject, getObject, putObject } from './object-ops.js';
import { abortMultipartUpload, completeMultipartUpload, createMultipartUpload, listMultipartUploads, listParts, uploadPart } from './multipart-ops.js';
import { deleteChunk, getChunk, putChunk } from './chunk-ops.js';

/** An S3 operation: its name (as S3 names it, for counting) and what runs it. */
export interface S3Operation {
  name: string;
  run(ctx: BucketContext): Promise<void> | void;
}

/** Subresources of bucket and object requests the endpoint does not serve (ACLs, policies, tagging…): NotImplemented, not a listing or a GET. */
const UNSUPPORTED = [
  'acl',
  'policy',
  'cors',
  'lifecycle',
  'tagging',
  'website',
  'logging',
  'notification',
  'replication',
  'encryption',
  'object-lock',
  'retention',
  'legal-hold',
  'torrent',
  'restore',
  'select',
  'attributes',
  'versions',
  'accelerate',
  'requestPayment',
  'analytics',
  'metrics',
  'inventory',
  'intelligent-tiering',
  'ownershipControls',
  'publicAccessBlock',
  'policyStatus',
];

function unsupported(q: URLSearchParams): string | undefined {
  return UNSUPPORTED.find((s) => q.has(s));
}

const notAllowed = (method: string, what: string) => new S3ApiError('MethodNotAllowed', `${method} is not allowed on ${what}`);

/** The operation of a request on a bucket (no key). */
export function bucketOperation(method: string, q: URLSearchParams): S3Operation {
  const sub = unsupported(q);
  if (sub) throw new S3ApiError('NotImplemented', `the ?${sub} subresource is not served by Larder`);
  switch (method) {
    case 'GET':
      if (q.has('location')) return { name: 'GetBucketLocation', run: bucketLocation };
      if (q.has('versioning')) return { name: 'GetBucketVersioning', run: bucketVersioning };
      if (q.has('uploads')) return { name: 'ListMultipartUploads', run: listMultipartUploads };
      return { name: q.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects', run: listObjects };
    case 'HEAD':
      return { name: 'HeadBucket', run: headBucket };
    case 'POST':
      if (q.has('delete')) return { name: 'DeleteObjects', run: deleteObjects };
      throw notAllowed(method, 'a bucket');
    case 'PUT':
      return { name: 'CreateBucket', run: createBucket };
    default:
      throw notAllowed(method, 'a bucket');
  }
}

/** The operation of a request on an object; chunk keys of the datastore's layout go to ChunkObjects when there is one. */
export function objectOperation(method: string, q: URLSearchParams, copy: boolean, chunkObjects: ChunkObjects | undefined): S3Operation {
  const sub = unsupported(q);
  if (sub) throw new S3ApiError('NotImplemented', `the ?${sub} subresource is not served by Larder`);
  const obj = (name: string, run: (ctx: ObjectContext) => Promise<void>, chunk?: (ctx: ObjectContext, c: ChunkObjects, ref: ChunkRef) => Promise<void>): S3Operation => ({
    name,
    run: (ctx) => {
      const o = ctx as ObjectContext;
      const ref = chunk && chunkObjects ? chunkRef(o, o.key) : undefined;
      return ref && chunk && chunkObjects ? chunk(o, chunkObjects, ref) : run(o);
    },
  });
  switch (method) {
    case 'GET':
      if (q.has('uploadId')) return obj('ListParts', listParts);
      return obj('GetObject', getObject, getChunk);
    case 'HEAD':
      return obj('HeadObject', getObject, getChunk);
    case 'PUT':
      if (q.has('uploadId') || q.has('partNumber')) return obj('UploadPart', uploadPart);
      if (copy) {
        return obj('CopyObject', (ctx) => {
          if (chunkRef(ctx, ctx.key)) throw new S3ApiError('InvalidRequest', 'chunk objects are written with a PUT of their body, not a copy');
          return copyObject(ctx);
        });
      }
      return obj('PutObject', putObject, putChunk);
    case 'POST':
      if (q.has('uploads')) return obj('CreateMultipartUpload', createMultipartUpload);
      if (q.has('uploadId')) return obj('CompleteMultipartUpload', completeMultipartUpload);
      throw notAllowed(method, 'an object');
    case 'DELETE':
      if (q.has('uploadId')) return obj('AbortMultipartUpload', abortMultipartUpload);
      return obj('DeleteObject', deleteObject, deleteChunk);
    default:
      throw notAllowed(method, 'an object');
  }
}

/** Whether a request changes anything (needs a read-write key). */
export function isWrite(method: string): boolean {
  return method === 'PUT' || method === 'POST' || method === 'DELETE';
}
