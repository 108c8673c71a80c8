import { StatusError } from '@larder/errors';

/** The S3 error codes the endpoint answers with, and the HTTP status of each (as AWS S3 answers them). */
export const S3_ERROR_STATUS = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  BadDigest: 400,
  BucketAlreadyOwnedByYou: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  ExpiredToken: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidObjectName: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  KeyTooLongError: 400,
  MalformedXML: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  MissingSecurityHeader: 400,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NotImplemented: 501,
  PreconditionFailed: 412,
  RequestHeaderSectionTooLarge: 400,
  RequestTimeTooSkewed: 403,
  ServiceUnavailable: 503,
  SignatureDoesNotMatch: 403,
  SlowDown: 503,
  XAmzContentSHA256Mismatch: 400,
} as const;

export type S3ErrorCode = keyof typeof S3_ERROR_STATUS;

/**
 * A failure of an S3 endpoint request, answered as an S3 XML error document (`<Error><Code>…`). Its status is the
 * code's unless given (an upstream answer passed on keeps its own).
 */
export class S3ApiError extends StatusError {
  constructor(
    /** An S3ErrorCode, or the code of an upstream answer passed on. */
    readonly code: string,
    message: string,
    status?: number,
    options?: ErrorOptions,
  ) {
    super(status ?? (S3_ERROR_STATUS as Record<string, number>)[code] ?? 500, message, options);
    this.name = 'S3ApiError';
  }
}
