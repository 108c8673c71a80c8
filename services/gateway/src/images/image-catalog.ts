import { createHash } from 'node:crypto';
import { resolveDatastore, type Config, type ResolvedDatastore } from '@larder/config';
import { listImageIndexes } from '@larder/datastore';
import { FormatError, isIndexName, parseIndex, type ImageIndex } from '@larder/formats';
import { S3Error, getObjectBytes, indexObjectKey, isSafeObjectName, s3ClientFor } from '@larder/s3';
import { HttpError } from '../http-kit.js';

/** An image ready to read: its datastore, parsed index, size and a strong ETag. */
export interface ImageInfo {
  store: string;
  name: string;
  ds: ResolvedDatastore;
  index: ImageIndex;
  size: number;
  etag: string;
  indexBytes: Buffer;
  /** Chunks read recently through any connection (readahead detects sequential streams from it). */
  recent: RecentChunks;
}

/** A bounded set of recently read chunk numbers of one image. */
export class RecentChunks {
  private readonly seen = new Set<number>();

  /** Remember that chunk `i` was read. */
  add(i: number): void {
    this.seen.delete(i);
    this.seen.add(i);
    if (this.seen.size > 1024) this.seen.delete(this.seen.values().next().value as number);
  }

  /** Whether chunk `i` was read recently. */
  has(i: number): boolean {
    return this.seen.has(i);
  }
}

/** Loads and caches parsed index files (images) from S3; entries are re-read after `images.indexTtl`. */
export class ImageCatalog {
  private readonly cache = new Map<string, { at: number; image: Promise<ImageInfo> }>();

  constructor(private readonly config: () => Config) {}

  /** Validate a store and image name; 404 for an unknown store, 400 for a name that is not a safe index path. */
  datastore(store: string, name?: string): ResolvedDatastore {
    const ds = resolveDatastore(this.config(), store);
    if (!ds) throw new HttpError(404, `unknown datastore: ${store}`);
    if (name !== undefined && (!isSafeObjectName(name) || !isIndexName(name))) {
      throw new HttpError(400, `bad image name ${JSON.stringify(name.slice(0, 200))}: expected a relative path ending in .fidx, .didx or .caibx`);
    }
    return ds;
  }

  /** Open an image (cached). Errors: 404 no such image, 422 malformed index, 503 S3 unavailable. */
  open(store: string, name: string): Promise<ImageInfo> {
    const ds = this.datastore(store, name);
    const key = `${store}/${name}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < this.config().images.indexTtl) return hit.image;
    const image = this.load(ds, store, name);
    this.cache.set(key, { at: now, image });
    image.catch(() => this.cache.delete(key));
    if (this.cache.size > 512) this.cache.delete(this.cache.keys().next().value as string);
    return image;
  }

  /** The images of a datastore with their sizes. */
  async list(store: string): Promise<{ name: string; size: number; format: string; chunks: number }[]> {
    const ds = this.datastore(store);
    const entries = await listImageIndexes(ds).catch((err) => {
      throw toHttpError(err, `listing images of ${store}`);
    });
    const out = [];
    for (const e of entries) {
      const img = await this.open(store, e.name).catch(() => undefined);
      if (img) out.push({ name: e.name, size: img.size, format: img.index.format, chunks: img.index.chunkCount });
    }
    return out;
  }

  private async load(ds: ResolvedDatastore, store: string, name: string): Promise<ImageInfo> {
    let bytes: Buffer;
    try {
      const c = this.config();
      bytes = await getObjectBytes(s3ClientFor(ds), ds.bucket, indexObjectKey(ds, name), { timeoutMs: c.fetcher.timeout, retries: c.fetcher.retries, backoffMs: c.fetcher.backoff });
    } catch (err) {
      if (err instanceof S3Error && err.kind === 'not-found') throw new HttpError(404, `no image ${name} in datastore ${store}`, { cause: err });
      throw toHttpError(err, `reading index ${name} of ${store}`);
    }
    let index: ImageIndex;
    try {
      index = parseIndex(name, bytes);
    } catch (err) {
      if (err instanceof FormatError) throw new HttpError(422, `image ${name} in ${store} has a malformed index: ${err.message}`, { cause: err });
      throw err;
    }
    const etag = `"${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}"`;
    return { store, name, ds, index, size: index.size, etag, indexBytes: bytes, recent: new RecentChunks() };
  }
}

function toHttpError(err: unknown, what: string): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof S3Error) return new HttpError(err.kind === 'timeout' ? 504 : 503, `${what}: ${err.message}`, { cause: err });
  return new HttpError(500, `${what}: ${(err as Error).message}`, { cause: err });
}
