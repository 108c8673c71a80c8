import { createHash } from 'node:crypto';
import { resolveDatastore, type Config, type ResolvedDatastore } from '@larder/config';
import { listImageIndexes } from '@larder/datastore';
import { SingleFlight } from '@larder/flight';
import { FormatError, isIndexName, parseIndex, type ImageIndex } from '@larder/formats';
import { S3Error, getObjectBytes, indexObjectKey, isSafeObjectName, s3ClientFor } from '@larder/s3';
import { StatusError } from '@larder/errors';

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
  /** Parsed images by `store/name`, with the time each was loaded. */
  private readonly cache = new Map<string, { at: number; image: ImageInfo }>();
  private readonly loading = new SingleFlight<ImageInfo>();

  constructor(private readonly config: () => Config) {}

  /** Validate a store and image name; 404 for an unknown store, 400 for a name that is not a safe index path. */
  datastore(store: string, name?: string): ResolvedDatastore {
    const ds = resolveDatastore(this.config(), store);
    if (!ds) throw new StatusError(404, `unknown datastore: ${store}`);
    if (name !== undefined && (!isSafeObjectName(name) || !isIndexName(name))) {
      throw new StatusError(400, `bad image name ${JSON.stringify(name.slice(0, 200))}: expected a relative path ending in .fidx, .didx or .caibx`);
    }
    return ds;
  }

  /** Open an image (cached). Errors: 404 no such image, 422 malformed index, 503 S3 unavailable. */
  open(store: string, name: string): Promise<ImageInfo> {
    const ds = this.datastore(store, name);
    const key = `${store}/${name}`;
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < this.config().images.indexTtl) return Promise.resolve(hit.image);
    return this.loading.run(key, async () => {
      const at = Date.now();
      const image = await this.load(ds, store, name);
      this.cache.delete(key);
      this.cache.set(key, { at, image });
      if (this.cache.size > 512) this.cache.delete(this.cache.keys().next().value as string);
      return image;
    });
  }

  /** The images of a datastore with their sizes. */
  async list(store: string): Promise<{ name: string; size: number; format: string; chunks: number }[]> {
    const ds = this.datastore(store);
    const entries = await listImageIndexes(ds).catch((err) => {
      throw toStatusError(err, `listing images of ${store}`);
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
      if (err instanceof S3Error && err.kind === 'not-found') throw new StatusError(404, `no image ${name} in datastore ${store}`, { cause: err });
      throw toStatusError(err, `reading index ${name} of ${store}`);
    }
    let index: ImageIndex;
    try {
      index = parseIndex(name, bytes);
    } catch (err) {
      if (err instanceof FormatError) throw new StatusError(422, `image ${name} in ${store} has a malformed index: ${err.message}`, { cause: err });
      throw err;
    }
    const etag = `"${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}"`;
    return { store, name, ds, index, size: index.size, etag, indexBytes: bytes, recent: new RecentChunks() };
  }
}

function toStatusError(err: unknown, what: string): StatusError {
  if (err instanceof StatusError) return err;
  if (err instanceof S3Error) return new StatusError(err.kind === 'timeout' ? 504 : 503, `${what}: ${err.message}`, { cause: err });
  return new StatusError(500, `${what}: ${(err as Error).message}`, { cause: err });
}
