import type { Socket } from 'node:net';
import type { ResolvedDatastore } from '@larder/config';

/**
 * The chunk objects of a datastore as the S3 endpoint sees them: reads served through the cache, writes verified,
 * written through to S3 and admitted, deletes forgotten. Everything else (and every key that is not a chunk key of the
 * datastore's layout) the S3 endpoint passes through to S3 itself. Implemented by `ChunkObjectStore`.
 *
 * Keys given here are object keys *within the datastore*: the client's key, which is the upstream key less the datastore's prefix.
 */
export interface ChunkObjects {
  /** The chunk's digest when `key` names a chunk of the datastore's layout (pbs `.chunks/<4 hex>/<digest>`, casync `<4 hex>/<digest>.cacnk`). */
  digestOf(ds: ResolvedDatastore, key: string): string | undefined;

  /**
   * GET: the chunk object's bytes as stored in S3, from the cache (fetched through the chunk-fetchers on a miss: one S3
   * GET however many clients ask; verified before it is served). `socket` lets readahead follow a client that walks an
   * index. The caller serves `fd` (whole or a range) and closes it. Fails with a StatusError (S3ApiError NoSuchKey for 404).
   */
  open(ds: ResolvedDatastore, digest: string, socket: Socket): Promise<ChunkObject>;

  /** HEAD: the chunk object's size and ETag when this node holds it; undefined: the caller asks S3 (and calls {@link seen} on a 200). */
  head(ds: ResolvedDatastore, digest: string): Promise<ChunkObjectInfo | undefined>;

  /**
   * PUT: `body` must be a valid chunk of the layout whose digest is `digest` (else S3ApiError BadDigest/InvalidRequest and
   * nothing is written anywhere). Uploaded with `upload` unless the existence record says S3 has it (within
   * `gateway.knownChunkTtl`); then recorded and admitted to the cache. With `ifNoneMatch` (the client sent
   * `If-None-Match: *`) an object S3 already has is answered as S3 would (PreconditionFailed) — whether Larder knew it or S3 said so.
   * Resolves only once S3 acknowledged the write (or it is known to be there); the chunk is then cached, best effort
   * (a full volume or Redis down is logged and counted, never the client's failure). Concurrent PUTs of one chunk in a
   * process share one upload (a PUT with `ifNoneMatch` that joined another's upload is answered PreconditionFailed).
   */
  put(ds: ResolvedDatastore, digest: string, body: Buffer, upload: ChunkUpload, opts: ChunkPutOptions): Promise<ChunkPutResult>;

  /**
   * Whether the existence record says S3 holds the chunk (within `gateway.knownChunkTtl`): a conditional PUT of it
   * (`If-None-Match: *`) is then answered PreconditionFailed, as S3 would, without reading its body into anything.
   * Counted as a PUT not uploaded (`bytes`: its Content-Length). False while the record cannot be read.
   */
  knownPut(ds: ResolvedDatastore, digest: string, bytes: number): Promise<boolean>;

  /** S3 deleted these chunk objects (a DeleteObject or DeleteObjects through the endpoint): drop their records and cached copies. */
  deleted(ds: ResolvedDatastore, digests: string[]): Promise<void>;

  /** S3 answered that this chunk object exists (a HEAD passed through): record it. */
  seen(ds: ResolvedDatastore, digest: string): void;
}

/** A chunk object opened for a GET. */
export interface ChunkObject extends ChunkObjectInfo {
  fd: number;
  hit: boolean;
}

/** What a HEAD answers for a chunk object. */
export interface ChunkObjectInfo {
  size: number;
  /** The quoted ETag S3 gives the object (the MD5 of its bytes for a single-part PUT). */
  etag: string;
  /** When this node's copy was written (S3's own Last-Modified is not kept; clients such as PBS need the header). */
  lastModified: Date;
}

/** The upstream PutObject of a chunk body, given by the S3 endpoint (it knows the client's headers); `ifNoneMatch` adds `If-None-Match: *`. */
export type ChunkUpload = (body: Buffer, opts: { ifNoneMatch: boolean }) => Promise<{ etag?: string; preconditionFailed?: boolean }>;

/** A chunk PUT's options: the client's `If-None-Match: *`, and whether {@link ChunkObjects.knownPut} just found no record (not asked again). */
export interface ChunkPutOptions {
  ifNoneMatch: boolean;
  unknown?: boolean;
}

/** How a chunk PUT went. */
export interface ChunkPutResult {
  etag: string;
  /** Whether a PUT went to S3 (false: known to be there). */
  uploaded: boolean;
  /** The client asked for `If-None-Match: *` and the object exists: answer 412 PreconditionFailed. */
  preconditionFailed: boolean;
}
