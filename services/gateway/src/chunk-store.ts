import { existsSync } from 'node:fs';
import type { FetchClient, FetchReply } from '@larder/bus';
import { StatusError } from '@larder/errors';
import { SingleFlight } from '@larder/flight';
import { chunkKey, type Volume } from '@larder/volume';
import type { TouchBatcher } from './touch-batcher.js';

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
  /** Keys whose fetch in flight was started at `low` priority (readahead): a client that needs one asks again at normal priority. */
  private readonly lowFetches = new Set<string>();

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
    if (fetched === undefined) throw new StatusError(503, `chunk ${digest} of ${store} was evicted before it could be served; the cache is too small for the load`);
    return { fd: fetched, hit: false };
  }

  /**
   * Readahead: make sure a chunk is on the volume without serving it (no hit or miss counted). Undefined when
   * the volume holds it already; otherwise its fetch at `low` priority, through the same single flight as `open`
   * (a client that asks for the chunk meanwhile joins it, at normal priority).
   */
  prefetch(store: string, digest: string): Promise<FetchReply> | undefined {
    if (existsSync(this.deps.volume.chunkPath(store, digest))) return undefined;
    return this.fetch(store, digest, chunkKey(store, digest), 'low');
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
    // A client read must not wait behind readahead queued at low priority: it asks at normal priority too (the
    // fetchers' own single flight and lock still make one S3 GET of it).
    if (priority === 'normal' && this.lowFetches.has(key)) return this.fetches.run(`${key}#normal`, () => this.deps.fetcher.fetch(store, digest, priority));
    if (priority === 'low' && !this.fetches.has(key)) {
      this.lowFetches.add(key);
      return this.fetches.run(key, () => this.deps.fetcher.fetch(store, digest, priority).finally(() => this.lowFetches.delete(key)));
    }
    return this.fetches.run(key, () => this.deps.fetcher.fetch(store, digest, priority));
  }
}
