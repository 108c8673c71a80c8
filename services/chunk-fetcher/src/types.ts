/** A request to a chunk-fetcher: bring this chunk into the volume. */
export interface FetchRequest {
  store: string;
  digest: string;
  /** `low`: background work (warming an image) that waits behind client reads. */
  priority?: 'normal' | 'low';
}

/** A successful fetch: where the chunk came from and its size on the volume. */
export interface FetchReply {
  /** `volume`: it was there already; `s3`: this fetcher fetched it; `peer`: another fetch of it finished first. */
  source: 'volume' | 's3' | 'peer';
  size: number;
}

/** What a finished fetch broadcasts on the chunk-done subject, so that waiting fetchers answer too. */
export type FetchOutcome = { ok: true; size: number } | { ok: false; code: number; message: string };

/** Error codes a fetcher answers with (`respondError`), HTTP-like so the gateway can pass them on. */
export const FetchErrorCode = {
  BadRequest: 400,
  NotFound: 404,
  BadUpstreamData: 502,
  Unavailable: 503,
  Timeout: 504,
  Internal: 500,
} as const;
