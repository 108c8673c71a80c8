import { openSync } from 'node:fs';
import { SpanKind, SpanStatusCode, context } from '@opentelemetry/api';
import { BusError, checkReply, decodeJson, encodeJson, requestFailure, subjects, traceHeaders, type NatsConnection } from '@larder/bus';
import type { FetchReply } from '@larder/chunk-fetcher';
import type { Config } from '@larder/config';
import { tracer } from '@larder/telemetry';
import { chunkKey, type Volume } from '@larder/volume';
import type { TouchBatcher } from './touch-batcher.js';

const tr = tracer('larder.gateway');

/** Client reads are `normal`; warming an image is `low` and waits behind them at the fetchers. */
export type Priority = 'normal' | 'low';

/** An open chunk file (a descriptor the caller closes) and whether it was already cached. */
export interface OpenedChunk {
  fd: number;
  hit: boolean;
}

/**
 * Opens chunks from the volume; on a miss asks the chunk-fetchers over NATS (one request per chunk in this
 * process however many clients wait for it) and opens the file they wrote.
 */
export class ChunkSource {
  private readonly inflight = new Map<string, Promise<FetchReply>>();

  constructor(private readonly deps: { config: () => Config; nc: NatsConnection; volume: Volume; touches: TouchBatcher }) {}

  /**
   * Open a chunk; store and digest must already be validated. Throws BusError (HTTP-like code) on failure.
   * The open is synchronous: for a file in the page cache one `open` is far cheaper than a thread-pool round trip.
   */
  async open(store: string, digest: string, priority: Priority = 'normal'): Promise<OpenedChunk> {
    const key = chunkKey(store, digest);
    const fd = this.openCached(store, digest);
    if (fd !== undefined) {
      this.deps.touches.hit(key);
      return { fd, hit: true };
    }
    this.deps.touches.miss();
    // Evicted between the fetch and our open: ask once more.
    for (let attempt = 0; attempt < 3; attempt++) {
      await this.fetch(store, digest, key, priority);
      const opened = this.openCached(store, digest);
      if (opened !== undefined) return { fd: opened, hit: false };
    }
    throw new BusError(503, `chunk ${digest} of ${store} was evicted before it could be served; the cache is too small for the load`);
  }

  /** A chunk opened earlier was used again (an open file kept by the image reader): refresh its recency. */
  recordUse(key: string): void {
    this.deps.touches.touch(key);
  }

  private openCached(store: string, digest: string): number | undefined {
    try {
      return openSync(this.deps.volume.chunkPath(store, digest), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Make sure the volume holds a chunk, without opening it. */
  private fetch(store: string, digest: string, key: string, priority: Priority): Promise<FetchReply> {
    let p = this.inflight.get(key);
    if (!p) {
      p = this.request(store, digest, priority).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private request(store: string, digest: string, priority: Priority): Promise<FetchReply> {
    const cfg = this.deps.config();
    const subject = subjects(cfg.namespace).fetch;
    return tr.startActiveSpan('nats request chunk.fetch', { kind: SpanKind.CLIENT, attributes: { 'messaging.destination': subject } }, context.active(), async (span) => {
      try {
        const msg = await this.deps.nc
          .request(subject, encodeJson({ store, digest, ...(priority === 'low' ? { priority } : {}) }), { timeout: cfg.gateway.requestTimeout, headers: traceHeaders() })
          .catch((err) => {
            throw requestFailure(err, `fetching chunk ${digest} of ${store}`);
          });
        return decodeJson<FetchReply>(checkReply(msg).data);
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    });
  }
}
