import type { AccessKey, Config } from '@larder/config';
import { SigV4Error, verifySigV4, type SignedRequest, type VerifiedRequest } from '@larder/s3';
import { S3ApiError } from './s3-errors.js';

/** Checks a request's signature against the configured access keys; throws SigV4Error or S3ApiError when it does not hold. */
export type Authenticator = (req: SignedRequest, config: Config) => VerifiedRequest;

/** The real one: SigV4 (header or presigned) against `accessKeys`. */
export const sigV4Authenticator: Authenticator = (req, config) => verifySigV4(req, (id) => config.accessKeys.find((k) => k.accessKeyId === id)?.secretAccessKey);

/** An authenticator's failure as the S3 error to answer with. */
export function authError(err: unknown): S3ApiError {
  if (err instanceof S3ApiError) return err;
  if (err instanceof SigV4Error) return new S3ApiError(err.code, err.message);
  return new S3ApiError('AccessDenied', `request refused: ${(err as Error)?.message ?? String(err)}`, 403, { cause: err });
}

/** The access key a verified request was signed with. */
export function accessKeyOf(config: Config, verified: VerifiedRequest): AccessKey {
  const key = config.accessKeys.find((k) => k.accessKeyId === verified.accessKeyId);
  // The key was removed by a config reload between verification and here.
  if (!key) throw new S3ApiError('InvalidAccessKeyId', 'the access key is not configured');
  return key;
}

/** Whether a key may see a client bucket. */
export function keySeesBucket(key: AccessKey, bucket: string): boolean {
  return key.buckets.includes('*') || key.buckets.includes(bucket);
}

/** Refuse (AccessDenied) a request the key may not make: a bucket not in its list, or a write with a read-only key. */
export function authorize(key: AccessKey, bucket: string, write: boolean): void {
  if (!keySeesBucket(key, bucket)) throw new S3ApiError('AccessDenied', `access key ${key.accessKeyId} may not use bucket ${bucket}`);
  if (write && key.access !== 'read-write') throw new S3ApiError('AccessDenied', `access key ${key.accessKeyId} is read-only`);
}
