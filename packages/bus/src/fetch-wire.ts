/** A request to a chunk-fetcher (`larder.NS.chunk.fetch`): bring this chunk into the volume. */
export interface FetchRequest {
  store: string;
  digest: string;
  /** `low`: background work (warming an image) that waits behind client reads. */
  priority?: 'normal' | 'low';
}

/** A chunk-fetcher's answer to a fetch that succeeded: where the chunk came from and its size on the volume. */
export interface FetchReply {
  /** `volume`: it was there already; `s3`: this fetcher fetched it; `peer`: another fetch of it finished first. */
  source: 'volume' | 's3' | 'peer';
  size: number;
}

/** What a finished fetch broadcasts on the chunk-done subject, so that waiting fetchers answer too; `code` is an HTTP status. */
export type FetchOutcome = { ok: true; size: number } | { ok: false; code: number; message: string };

/** The statuses a chunk-fetcher answers a failed fetch with (`respondError(status, text)`); the gateway passes them on. */
export const FetchStatus = {
  BadRequest: 400,
  NotFound: 404,
  Internal: 500,
  BadUpstreamData: 502,
  Unavailable: 503,
  Timeout: 504,
  /** The chunk can never fit on the volume (larger than the filesystem less its reserve, or than the capacity). */
  InsufficientStorage: 507,
} as const;
