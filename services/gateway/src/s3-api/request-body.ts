import type { IncomingMessage } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { payloadVerifier, streamingDecoder, type VerifiedRequest } from '@larder/s3';
import { authError } from './s3-auth.js';
import { S3ApiError } from './s3-errors.js';

/** S3's limit on a single PUT. */
export const MAX_PUT_BYTES = 5 * 1024 ** 3;
/** Request bodies in XML (DeleteObjects, CompleteMultipartUpload) are at most this big. */
export const MAX_XML_BYTES = 1024 * 1024;
/**
 * PUT bodies up to this size are read whole and verified before anything goes to S3; larger ones stream to S3 as they
 * arrive, the last byte held back until the body's verification has passed, so that S3 never completes an object whose
 * body failed (the upstream request is destroyed instead).
 */
export const BUFFERED_PUT_BYTES = 16 * 1024 * 1024;

/** How a body is checked: aws-chunked decoded (chunk signatures, trailers), or the signed SHA-256 and any x-amz-checksum-* header. */
function verifierFor(verified: VerifiedRequest): Transform {
  return verified.payload === 'streaming' ? streamingDecoder(verified) : payloadVerifier(verified);
}

/** The length of the body once decoded (aws-chunked: `x-amz-decoded-content-length`); undefined when the client did not say. */
export function bodyLength(req: IncomingMessage, verified: VerifiedRequest): number | undefined {
  if (verified.payload === 'streaming') return verified.decodedLength;
  const h = req.headers['content-length'];
  if (h === undefined) return undefined;
  const n = Number(h);
  if (!/^\d+$/.test(h) || !Number.isSafeInteger(n)) throw new S3ApiError('InvalidArgument', 'malformed Content-Length');
  return n;
}

function counter(onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onBytes(chunk.length);
      cb(null, chunk);
    },
  });
}

function asS3Error(err: unknown, req: IncomingMessage): S3ApiError {
  if (err instanceof S3ApiError) return err;
  if (req.readableAborted || (err as NodeJS.ErrnoException)?.code === 'ECONNRESET' || (err as Error)?.name === 'AbortError') {
    return new S3ApiError('IncompleteBody', 'the request body ended before its declared length');
  }
  return authError(err);
}

/** Read and verify a whole body of at most `limit` bytes (`tooLarge` beyond). */
export async function readBody(req: IncomingMessage, verified: VerifiedRequest, limit: number, onBytes: (n: number) => void, tooLarge = 'EntityTooLarge'): Promise<Buffer> {
  const declared = bodyLength(req, verified);
  if (declared !== undefined && declared > limit) throw new S3ApiError(tooLarge, `request body larger than ${limit} bytes`, 400);
  const parts: Buffer[] = [];
  let size = 0;
  try {
    await pipeline(req, counter(onBytes), verifierFor(verified), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) {
        size += chunk.length;
        if (size > limit) throw new S3ApiError(tooLarge, `request body larger than ${limit} bytes`, 400);
        parts.push(chunk);
      }
    });
  } catch (err) {
    throw asS3Error(err, req);
  }
  if (declared !== undefined && size !== declared) throw new S3ApiError('IncompleteBody', `request body has ${size} bytes, not the ${declared} declared`);
  return Buffer.concat(parts, size);
}

/** Holds the last byte of a stream back until the stream ends well, so that a failure before the end leaves its reader short. */
class HoldLast extends Transform {
  private last: Buffer | undefined;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    if (chunk.length === 0) return cb();
    const out = this.last;
    this.last = chunk.subarray(chunk.length - 1);
    const head = chunk.subarray(0, chunk.length - 1);
    if (out) this.push(out);
    cb(null, head.length ? head : undefined);
  }
  override _flush(cb: (err?: Error | null, data?: Buffer) => void): void {
    cb(null, this.last);
  }
}

/**
 * The body as a verified stream for a streamed pass-through: fails (with the S3 error) when verification fails or the
 * client's body ends early, and its last byte comes only after verification passed. `failed` settles with that error.
 */
export function verifiedStream(req: IncomingMessage, verified: VerifiedRequest, onBytes: (n: number) => void): { body: Readable; failed: Promise<S3ApiError | undefined> } {
  const hold = new HoldLast();
  const failed = pipeline(req, counter(onBytes), verifierFor(verified), hold).then(
    () => undefined,
    (err: unknown) => asS3Error(err, req),
  );
  return { body: hold, failed };
}
