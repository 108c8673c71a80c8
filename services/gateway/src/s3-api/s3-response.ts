import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { statusOf } from '@larder/errors';
import { S3ApiError } from './s3-errors.js';
import { xmlDocument, type XmlTree } from './xml.js';

/** A request id for S3's `x-amz-request-id` header and error documents. */
export function requestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

/** Answer with an XML document (S3's namespace on the root). */
export function sendXml(res: ServerResponse, status: number, root: string, body: XmlTree, onBytes?: (n: number) => void): void {
  sendXmlText(res, status, xmlDocument(root, body), onBytes);
}

/** Answer with XML text already written. */
export function sendXmlText(res: ServerResponse, status: number, text: string, onBytes?: (n: number) => void): void {
  const bytes = Buffer.from(text, 'utf8');
  onBytes?.(bytes.length);
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': bytes.length });
  res.end(bytes);
}

/** Any failure as S3's error: an S3ApiError as it is; anything else by its status (500: InternalError, not its message). */
export function toS3Error(err: unknown): S3ApiError {
  if (err instanceof S3ApiError) return err;
  const status = statusOf(err);
  const message = (err as Error)?.message ?? String(err);
  if (status === 404) return new S3ApiError('NoSuchKey', message, 404, { cause: err });
  if (status === 503) return new S3ApiError('ServiceUnavailable', message, 503, { cause: err });
  if (status === 504) return new S3ApiError('ServiceUnavailable', message, 503, { cause: err });
  if (status >= 400 && status < 500) return new S3ApiError('InvalidRequest', message, status, { cause: err });
  return new S3ApiError('InternalError', 'We encountered an internal error. Please try again.', 500, { cause: err });
}

/**
 * Answer with an S3 error document (none for HEAD, as S3). When the response has started, the connection is cut so
 * that the client sees a failure, not a short object. A request whose body was not read closes the connection.
 */
export function sendS3Error(req: IncomingMessage, res: ServerResponse, err: S3ApiError, resource: string, id: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string | number> = { 'x-amz-request-id': id, 'content-type': 'application/xml' };
  if (!req.complete) headers.connection = 'close';
  if (err.code === 'SlowDown' || err.code === 'ServiceUnavailable') headers['retry-after'] = 1;
  if (req.method === 'HEAD') {
    res.writeHead(err.status, headers);
    res.end();
    return;
  }
  const text = xmlDocument('Error', { Code: err.code, Message: err.message, Resource: resource, RequestId: id }, false);
  res.writeHead(err.status, { ...headers, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
