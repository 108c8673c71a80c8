import { createHash } from 'node:crypto';
import { resolveDatastore, type Config, type ResolvedDatastore } from '@larder/config';
import { listImageIndexes } from '@larder/datastore';
import { SingleFlight } from '@larder/flight';
import { FormatError, isIndexName, parseIndex, type ImageIndex } from '@larder/formats';
import { S3Error, getObjectBytes, indexObjectKey, isSafeObjectName, s3ClientFor } from '@larder/s3';
import { StatusError, statusOf } from '@larder/errors';
import { createLogger } from '@larder/telemetry';
import type { SavedIndexes } from '@larder/volume';

const log = createLogger('gateway');

/** How long a read waits for an expired index to be re-read before it is served from the last good one (S3 slow or frozen). */
const REFRESH_GRACE_MS = 1000;

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

/** What the catalog knows of S3 and the images it serves from their last good index (`images` in `/v1/status`). */
export interface CatalogStatus {
  /** Whether the last index read reached S3 (null before the first). */
  s3Reachable: boolean | null;
  /** Images (`store/name`) served from their last good index because S3 cannot be reached. */
  servedFromLastGood: string[];
  /** The last failure to reach S3 for an index, and when. */
  lastS3Error: { message: string; atMs: number } | null;
  /** Index copies kept on the volume. */
  savedIndexes: { count: number; bytes: number } | null;
}

/** A cached image: when it was last read from S3 (or last tried, while stale), and since when S3 could not be reached for it. */
interface Entry {
  at: number;
  image: ImageInfo;
  /** Served from the last good index since `sinceMs` (S3 unreachable); retried every `images.indexTtl`. */
  stale?: { sinceMs: number; source: 'memory' | 'volume' };
  /** When the running re-read started. */
  refreshingSince?: number;
}

/** Whether an index read failed because S3 could not be reached (refused, reset, 5xx, no answer in time), not because of what S3 answered. */
export function isS3Unreachable(err: unknown): boolean {
  const s3 = err instanceof S3Error ? err : err instanceof Error && err.cause instanceof S3Error ? err.cause : undefined;
  return s3 !== undefined && (s3.kind === 'unavailable' || s3.kind === 'timeout');
}

/**
 * Loads and caches parsed index files (images) from S3; entries are re-read after `images.indexTtl`. While S3 cannot be
 * reached an image is served from its last good index (in memory, else the copy on the volume) and S3 is retried in the
 * background every `images.indexTtl`; an image that S3 answers is gone (404) is never served from an old copy.
 */
export class ImageCatalog {
  /** Parsed images by `store/name`. */
  private readonly cache = new Map<string, Entry>();
  private readonly loading = new SingleFlight<ImageInfo>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private s3Reachable: boolean | null = null;
  private lastS3Error: { message: string; atMs: number } | null = null;
  private closed = false;

  constructor(
    private readonly config: () => Config,
    private readonly saved?: SavedIndexes,
  ) {}

  /** Validate a store and image name; 404 for an unknown store, 400 for a name that is not a safe index path. */
  datastore(store: string, name?: string): ResolvedDatastore {
    const ds = resolveDatastore(this.config(), store);
    if (!ds) throw new StatusError(404, `unknown datastore: ${store}`);
    if (name !== undefined && (!isSafeObjectName(name) || !isIndexName(name))) {
      throw new StatusError(400, `bad image name ${JSON.stringify(name.slice(0, 200))}: expected a relative path ending in .fidx, .didx or .caibx`);
    }
    return ds;
  }

  /**
   * Open an image (cached). Errors: 404 no such image, 422 malformed index, 503 S3 unavailable (504 too slow) and no
   * good index of the image kept.
   */
  open(store: string, name: string): Promise<ImageInfo> {
    const ds = this.datastore(store, name);
    const key = `${store}/${name}`;
    const hit = this.cache.get(key);
    const now = Date.now();
    if (hit && now - hit.at < this.config().images.indexTtl) return Promise.resolve(hit.image);
    if (hit?.stale) {
      // S3 known unreachable for this image: serve the last good index at once, retry in the background.
      this.retrySoon(ds, store, name, 0);
      return Promise.resolve(hit.image);
    }
    if (hit?.refreshingSince !== undefined && now - hit.refreshingSince >= REFRESH_GRACE_MS) return Promise.resolve(hit.image);
    const reload = this.loading.run(key, () => this.reload(ds, store, name));
    if (hit) hit.refreshingSince ??= now;
    // A slow or frozen S3 must not hold up reads of cached data for longer than the grace: then the last good index
    // answers (in memory, else the copy on the volume, which a gateway started during an outage has) while the read goes on.
    const fallback = async (): Promise<ImageInfo | undefined> => {
      if (hit) return hit.image;
      const copy = await this.fromVolume(ds, store, name);
      if (!copy || !this.loading.has(key) || this.cache.has(key)) return copy?.image;
      // Later opens answer from it at once while the read goes on; the read's outcome replaces or forgets it.
      this.cache.set(key, { at: 0, image: copy.image, refreshingSince: now });
      return copy.image;
    };
    return new Promise<ImageInfo>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        void fallback().then((image) => {
          if (image && !settled) {
            settled = true;
            resolve(image);
          }
        });
      }, REFRESH_GRACE_MS);
      reload.then(
        (image) => {
          clearTimeout(timer);
          settled = true;
          resolve(image);
        },
        (err: unknown) => {
          clearTimeout(timer);
          settled = true;
          reject(err);
        },
      );
    });
  }

  /** The images of a datastore with their sizes; while S3 cannot be reached, the images this gateway has open. */
  async list(store: string): Promise<{ name: string; size: number; format: string; chunks: number }[]> {
    const ds = this.datastore(store);
    let entries: { name: string }[];
    try {
      entries = await listImageIndexes(ds);
      this.s3Reachable = true;
    } catch (err) {
      if (!isS3Unreachable(err)) throw toStatusError(err, `listing images of ${store}`);
      this.noteUnreachable(err);
      entries = [...this.cache.values()].filter((e) => e.image.store === store).map((e) => ({ name: e.image.name }));
      if (entries.length === 0) throw toStatusError(err, `listing images of ${store}`);
      entries.sort((a, b) => a.name.localeCompare(b.name));
    }
    const out = [];
    for (const e of entries) {
      const img = await this.open(store, e.name).catch(() => undefined);
      if (img) out.push({ name: e.name, size: img.size, format: img.index.format, chunks: img.index.chunkCount });
    }
    return out;
  }

  /** What `/v1/status` shows as `images`. */
  async status(): Promise<CatalogStatus> {
    const servedFromLastGood = [...this.cache.entries()].filter(([, e]) => e.stale).map(([k]) => k);
    return {
      s3Reachable: servedFromLastGood.length > 0 ? false : this.s3Reachable,
      servedFromLastGood,
      lastS3Error: this.lastS3Error,
      savedIndexes: this.saved ? await this.saved.usage().catch(() => null) : null,
    };
  }

  /** Stop background retries. */
  close(): void {
    this.closed = true;
    for (const t of this.retries.values()) clearTimeout(t);
    this.retries.clear();
  }

  /** Read the index from S3 into the cache; S3 unreachable: the last good index (memory, else volume), marked stale. */
  private async reload(ds: ResolvedDatastore, store: string, name: string): Promise<ImageInfo> {
    const key = `${store}/${name}`;
    const at = Date.now();
    const prev = this.cache.get(key);
    let bytes: Buffer;
    try {
      bytes = await this.readIndex(ds, store, name);
    } catch (err) {
      if (prev) prev.refreshingSince = undefined;
      // A copy from the volume served while this read ran stands only while S3 is unreachable.
      if (this.cache.get(key) !== prev) this.cache.delete(key);
      if (isS3Unreachable(err)) {
        this.noteUnreachable(err);
        const last = prev ? { image: prev.image, source: prev.stale?.source ?? ('memory' as const) } : await this.fromVolume(ds, store, name);
        if (last) {
          this.serveStale(ds, key, last.image, last.source, err);
          return last.image;
        }
      } else if (statusOf(err) === 404) {
        // S3 answered: the image is gone. Never serve an old copy of it.
        this.forget(key);
        await this.saved?.remove(store, name).catch(() => undefined);
      }
      throw err;
    }
    this.s3Reachable = true;
    let image: ImageInfo;
    try {
      // Unchanged bytes keep the parsed index (and what readahead learnt of it).
      image = prev && prev.image.indexBytes.equals(bytes) ? prev.image : parseImage(ds, store, name, bytes);
    } catch (err) {
      this.forget(key);
      throw err;
    }
    if (prev?.stale) log.info('S3 reachable again: image index re-read', { image: key, lastGoodSinceMs: prev.stale.sinceMs });
    this.clearRetry(key);
    this.cache.delete(key);
    this.cache.set(key, { at, image });
    if (this.cache.size > 512) this.forget(this.cache.keys().next().value as string);
    await this.saved?.save(store, name, bytes).catch((err: unknown) => log.warn('cannot keep a copy of an image index on the volume', { image: key, err }));
    return image;
  }

  private async readIndex(ds: ResolvedDatastore, store: string, name: string): Promise<Buffer> {
    try {
      const c = this.config();
      return await getObjectBytes(s3ClientFor(ds), ds.bucket, indexObjectKey(ds, name), { timeoutMs: c.fetcher.timeout, retries: c.fetcher.retries, backoffMs: c.fetcher.backoff });
    } catch (err) {
      if (err instanceof S3Error && err.kind === 'not-found') throw new StatusError(404, `no image ${name} in datastore ${store}`, { cause: err });
      throw toStatusError(err, `reading index ${name} of ${store}`);
    }
  }

  /** The image from the index copy on the volume, if an intact one is kept. */
  private async fromVolume(ds: ResolvedDatastore, store: string, name: string): Promise<{ image: ImageInfo; source: 'volume' } | undefined> {
    const copy = await this.saved?.load(store, name).catch((err: unknown) => {
      log.warn('cannot read the saved copy of an image index', { image: `${store}/${name}`, err });
      return undefined;
    });
    if (!copy) return undefined;
    try {
      return { image: parseImage(ds, store, name, copy.bytes), source: 'volume' };
    } catch {
      await this.saved?.remove(store, name).catch(() => undefined);
      return undefined;
    }
  }

  /** Serve `image` as the last good index of `key` while S3 is unreachable: logged once per outage, retried every TTL. */
  private serveStale(ds: ResolvedDatastore, key: string, image: ImageInfo, source: 'memory' | 'volume', err: unknown): void {
    const prev = this.cache.get(key);
    const stale = prev?.stale ?? { sinceMs: Date.now(), source };
    if (!prev?.stale) {
      log.warn('S3 unreachable: serving the last good index of the image until S3 answers again', { image: key, from: source, err: (err as Error).message });
    }
    this.cache.delete(key);
    this.cache.set(key, { at: Date.now(), image, stale });
    this.retrySoon(ds, image.store, image.name, this.config().images.indexTtl);
  }

  /** Re-read a stale image's index in the background after `delayMs` (one timer per image). */
  private retrySoon(ds: ResolvedDatastore, store: string, name: string, delayMs: number): void {
    const key = `${store}/${name}`;
    if (this.closed || this.retries.has(key)) return;
    const timer = setTimeout(() => {
      this.retries.delete(key);
      // A read already running ends fresh, or stale again with its own retry.
      if (this.closed || !this.cache.get(key)?.stale || this.loading.has(key)) return;
      // Failures are handled by reload (stale again, or forgotten on a 404); nothing is waiting for this one.
      this.loading.run(key, () => this.reload(ds, store, name)).catch(() => undefined);
    }, delayMs);
    timer.unref();
    this.retries.set(key, timer);
  }

  private clearRetry(key: string): void {
    const t = this.retries.get(key);
    if (t) clearTimeout(t);
    this.retries.delete(key);
  }

  private forget(key: string): void {
    this.cache.delete(key);
    this.clearRetry(key);
  }

  private noteUnreachable(err: unknown): void {
    this.s3Reachable = false;
    this.lastS3Error = { message: err instanceof Error ? err.message : String(err), atMs: Date.now() };
  }
}

/** Parse index bytes into an image; 422 when malformed. */
function parseImage(ds: ResolvedDatastore, store: string, name: string, bytes: Buffer): ImageInfo {
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

function toStatusError(err: unknown, what: string): StatusError {
  if (err instanceof StatusError) return err;
  if (err instanceof S3Error) return new StatusError(err.kind === 'timeout' ? 504 : 503, `${what}: ${err.message}`, { cause: err });
  return new StatusError(500, `${what}: ${(err as Error).message}`, { cause: err });
}
