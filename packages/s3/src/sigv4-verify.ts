import type { IncomingHttpHeaders } from 'node:http';
import type { Transform } from 'node:stream';

/**
 * SigV4 verification of requests to Larder's S3 endpoint (header `Authorization: AWS4-HMAC-SHA256 …` and presigned
 * `X-Amz-*` query forms).
 */

/** Why a request is refused; `code` is the S3 error code to answer with. */
export class SigV4Error extends Error {
  constructor(
    readonly code:
      | 'AccessDenied'
      | 'AuthorizationHeaderMalformed'
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

/** The request as received: method, the raw request target (`req.url`: path and query, still percent-encoded) and headers. */
export interface SignedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** A request whose signature checked out. */
export interface VerifiedRequest {
  accessKeyId: string;
  /**
   * How its body is to be checked: `unsigned` (UNSIGNED-PAYLOAD, and presigned URLs), `sha256` (the hex digest the client
   * signed: check the body with {@link payloadVerifier}), `streaming` (STREAMING-AWS4-HMAC-SHA256-PAYLOAD: decode with {@link streamingDecoder}).
   */
  payload: 'unsigned' | 'sha256' | 'streaming';
  /** The signed body digest (payload `sha256`). */
  payloadSha256?: string;
  /** `x-amz-decoded-content-length` of a streaming upload: the body's length once decoded. */
  decodedLength?: number;
}

/** The secret of an access key id, or undefined for an unknown key. */
export type SecretLookup = (accessKeyId: string) => string | undefined;

/**
 * Verify a request's SigV4 signature (header or presigned form) against the secret of its access key; throws SigV4Error
 * (unknown key, malformed authorization, bad signature, a date more than 15 minutes off `now`, an expired presigned URL).
 */
export function verifySigV4(req: SignedRequest, secretOf: SecretLookup, now = new Date()): VerifiedRequest {
  void req;
  void secretOf;
  void now;
  throw new SigV4Error('AccessDenied', 'SigV4 verification is not implemented yet');
}

/** A pass-through that fails (XAmzContentSHA256Mismatch) at the end when the body's SHA-256 is not the signed one. */
export function payloadVerifier(verified: VerifiedRequest): Transform {
  void verified;
  throw new Error('not implemented yet');
}

/** Decodes an `aws-chunked` body, checking each chunk's signature and the decoded length; fails with SigV4Error. */
export function streamingDecoder(verified: VerifiedRequest): Transform {
  void verified;
  throw new Error('not implemented yet');
}
