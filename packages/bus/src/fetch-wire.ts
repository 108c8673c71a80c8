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

/**
 * Liveness of a fetch. A request carrying this header (value `1`) asks the chunk-fetcher for progress messages: it
 * sends one at once (`accepted`) and then one every {@link FETCH_PROGRESS_INTERVAL_MS} (`working`) to the request's
 * reply subject, each an empty message with this header, until its final reply (which never has it). A gateway that
 * hears nothing for `gateway.fetchLivenessTimeout` re-sends the request. A request without the header (an older
 * gateway) gets only the final reply.
 */
export const FETCH_PROGRESS_HEADER = 'Larder-Progress';

/** How often a chunk-fetcher sends a progress message for each request it holds. */
export const FETCH_PROGRESS_INTERVAL_MS = 1000;

/** The value of a progress message's {@link FETCH_PROGRESS_HEADER}: `accepted` (the first, at once) or `working`. */
export type FetchProgress = 'accepted' | 'working';
