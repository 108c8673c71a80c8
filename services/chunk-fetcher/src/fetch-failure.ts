import { FetchStatus } from '@larder/bus';
import { StatusError } from '@larder/errors';
import { FormatError } from '@larder/formats';
import { S3Error } from '@larder/s3';

/** Any failure of a fetch as a StatusError with a clear message for the client: the status the fetcher answers with. */
export function fetchFailure(err: unknown, store: string, digest: string): StatusError {
  if (err instanceof StatusError) return err;
  if (err instanceof S3Error) {
    const status = {
      'not-found': FetchStatus.NotFound,
      denied: FetchStatus.BadUpstreamData,
      unavailable: FetchStatus.Unavailable,
      timeout: FetchStatus.Timeout,
      failed: FetchStatus.BadUpstreamData,
    }[err.kind];
    const text = err.kind === 'not-found' ? `chunk ${digest} not found in datastore ${store} (${err.key})` : err.message;
    return new StatusError(status, text, { cause: err });
  }
  if (err instanceof FormatError) {
    return new StatusError(FetchStatus.BadUpstreamData, `chunk ${digest} in datastore ${store} failed verification, not cached: ${err.message}`, { cause: err });
  }
  return new StatusError(FetchStatus.Internal, `fetching chunk ${digest} of ${store} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
