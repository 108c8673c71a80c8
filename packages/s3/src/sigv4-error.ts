/** Why a request is refused; `code` is the S3 error code to answer with. */
export class SigV4Error extends Error {
  constructor(
    readonly code:
      | 'AccessDenied'
      | 'AuthorizationHeaderMalformed'
      | 'BadDigest'
      | 'InvalidAccessKeyId'
      | 'SignatureDoesNotMatch'
      | 'RequestTimeTooSkewed'
      | 'XAmzContentSHA256Mismatch'
      | 'IncompleteBody'
      | 'InvalidArgument'
      | 'InvalidRequest'
      | 'MissingSecurityHeader',
    message: string,
  ) {
    super(message);
    this.name = 'SigV4Error';
  }
}
