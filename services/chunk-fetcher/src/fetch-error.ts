import { StatusError } from '@larder/errors';
import { FormatError } from '@larder/formats';
import { S3Error } from '@larder/s3';
import { FetchErrorCode } from './types.js';

/** A fetch failure with the code the fetcher answers with. */
export class FetchError extends Error {
  readonly code: number;

  constructor(code: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FetchError';
    this.code = code;
  }
}

/** Turn any failure of a fetch into a FetchError with a clear message for the client. */
export function toFetchError(err: unknown, store: string, digest: string): FetchError {
  if (err instanceof FetchError) return err;
  if (err instanceof S3Error) {
    const code = {
      'not-found': FetchErrorCode.NotFound,
      denied: FetchErrorCode.BadUpstreamData,
      unavailable: FetchErrorCode.Unavailable,
      timeout: FetchErrorCode.Timeout,
      failed: FetchErrorCode.BadUpstreamData,
    }[err.kind];
    const text = err.kind === 'not-found' ? `chunk ${digest} not found in datastore ${store} (${err.key})` : err.message;
    return new FetchError(code, text, { cause: err });
  }
  if (err instanceof FormatError) {
    return new FetchError(FetchErrorCode.BadUpstreamData, `chunk ${digest} in datastore ${store} failed verification, not cached: ${err.message}`, { cause: err });
  }
  // A typed failure that carries its status (RedisUnavailableError: 503 with its message).
  if (err instanceof StatusError) return new FetchError(err.status, err.message, { cause: err });
  return new FetchError(FetchErrorCode.Internal, `fetching chunk ${digest} of ${store} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
