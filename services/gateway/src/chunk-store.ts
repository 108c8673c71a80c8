import type { FetchClient, FetchReply } from '@larder/bus';
import { StatusError } from '@larder/errors';
import { SingleFlight } from '@larder/flight';
import { chunkKey, type Volume } from '@larder/volume';
import type { TouchBatcher } from './touch-batcher.js';

/** A chunk fetched for this open was evicted before its file could be opened (503). */
export class ChunkEvictedError extends StatusError {
  constructor(message: string) {
    super(503, message);
    this.name = 'ChunkEvictedError';
  }
}

/** Client reads are `normal`; warming an image is `low` and waits behind them at the fetchers. */
export type Priority = 'normal' | 'low';

/** An open chunk file (a descriptor the caller closes) and whether it was already cached. */
export interface OpenedChunk {
  fd: number;
  hit: boolean;
}

/**
 * The gateway's chunk store: a chunk is opened from the volume; on a miss the chunk-fetchers bring it there
 * (one request per chunk in this process however many clients wait for it) and the file they wrote is opened.
 */
export class ChunkStore {
  private readonly fetches = new SingleFlight<FetchReply>();

  constructor(private readonly deps: { volume: Volume; fetcher: FetchClient; touches: TouchBatcher }) {}

  /** Open a chunk; store and digest must already be validated. Fails with a StatusError (the fetch's status). */
  async open(store: string, digest: string, priority: Priority = 'normal'): Promise<OpenedChunk> {
    const key = chunkKey(store, digest);
    const fd = this.openLocal(store, digest);
    if (fd !== undefined) {
      this.deps.touches.hit(key);
      return { fd, hit: true };
    }
    this.deps.touches.miss();
    await this.fetch(store, digest, key, priority);
    const fetched = this.openLocal(store, digest);
    // Evicted between the fetch and this open: the cache is smaller than the chunks being read at once.
    if (fetched === undefined) throw new ChunkEvictedError(`chunk ${digest} of ${store} was evicted before it could be served; the cache is too small for the load`);
    return { fd: fetched, hit: false };
  }

  /**
   * Open a chunk as {@link open} does, but fetch it again, up to `attempts` fetches in all, when it was evicted
   * between its fetch and the open (a full volume making room for other fetches): what image reads use.
   */
  async openRefetching(store: string, digest: string, priority: Priority = 'normal', attempts = 3): Promise<OpenedChunk> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.open(store, digest, priority);
      } catch (err) {
        if (!(err instanceof ChunkEvictedError) || attempt >= attempts) throw err;
      }
    }
  }

  /** A chunk opened earlier was used again (an open file kept by the image reader): refresh its recency. */
  recordUse(key: string): void {
    this.deps.touches.touch(key);
  }

  /** The chunk's file on this node, opened, or undefined when the volume does not hold it. */
  private openLocal(store: string, digest: string): number | undefined {
    return this.deps.volume.openChunkSync(store, digest);
  }

  /** Have the chunk-fetchers bring a chunk into the volume, once for every caller waiting for it in this process. */
  private fetch(store: string, digest: string, key: string, priority: Priority): Promise<FetchReply> {
    return this.fetches.run(key, () => this.deps.fetcher.fetch(store, digest, priority));
  }
}
