import { S3ThrottledError } from './budget.js';

/** Why an S3 operation failed: the object is not there, the request was refused, or S3 could not be reached in time. */
export type S3ErrorKind = 'not-found' | 'denied' | 'unavailable' | 'timeout' | 'failed';

/** An S3 failure with its kind, the key, and the underlying SDK error as `cause`. */
export class S3Error extends Error {
  readonly kind: S3ErrorKind;
  readonly key: string;

  constructor(kind: S3ErrorKind, key: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'S3Error';
    this.kind = kind;
    this.key = key;
  }
}

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Classify an SDK or network error: permanent (`not-found`, `denied`) or worth retrying. */
export function classifyS3Error(err: unknown): { kind: S3ErrorKind; transient: boolean; status?: number } {
  // Before the status checks: a budget may count a 403 as "slow down".
  if (err instanceof S3ThrottledError) return { kind: 'unavailable', transient: true, status: err.status };
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  if (e.name === 'NoSuchKey' || e.name === 'NotFound' || status === 404) return { kind: 'not-found', transient: false, status: 404 };
  if (e.name === 'AbortError' || e.name === 'TimeoutError') return { kind: 'timeout', transient: true };
  if (status === 403 || e.name === 'AccessDenied' || e.name === 'InvalidAccessKeyId' || e.name === 'SignatureDoesNotMatch') {
    return { kind: 'denied', transient: false, status: 403 };
  }
  if (e.name === 'NoSuchBucket') return { kind: 'not-found', transient: false, status: 404 };
  if (status !== undefined && status >= 500) return { kind: 'unavailable', transient: true, status };
  if (status === 429 || status === 408) return { kind: 'unavailable', transient: true, status };
  if (status !== undefined && status >= 400) return { kind: 'failed', transient: false, status };
  // No HTTP status: connection refused/reset, DNS, s3rver's broken keep-alive ("Parse Error: Expected HTTP/").
  return { kind: 'unavailable', transient: true };
}
