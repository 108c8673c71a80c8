import type { IncomingMessage, ServerResponse, OutgoingHttpHeaders } from 'node:http';

/** Request headers of a read passed on to S3. */
const READ_HEADERS = ['range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'x-amz-checksum-mode'];

/** Request headers of a write passed on to S3 (with every x-amz-meta-*, x-amz-checksum-* and x-amz-server-side-encryption*). */
const WRITE_HEADERS = [
  'content-type',
  'content-md5',
  'cache-control',
  'content-disposition',
  'content-language',
  'expires',
  'if-match',
  'if-none-match',
  'x-amz-storage-class',
  'x-amz-tagging',
  'x-amz-metadata-directive',
  'x-amz-tagging-directive',
  'x-amz-copy-source-if-match',
  'x-amz-copy-source-if-none-match',
  'x-amz-copy-source-if-modified-since',
  'x-amz-copy-source-if-unmodified-since',
  'x-amz-copy-source-range',
];

/** Response headers of S3 passed on to the client (with every x-amz-meta-* and x-amz-checksum-*). */
const RESPONSE_HEADERS = [
  'content-type',
  'content-length',
  'content-range',
  'content-encoding',
  'content-disposition',
  'content-language',
  'cache-control',
  'expires',
  'etag',
  'last-modified',
  'accept-ranges',
  'x-amz-storage-class',
  'x-amz-mp-parts-count',
  'x-amz-server-side-encryption',
  'x-amz-tagging-count',
  'x-amz-missing-meta',
];

function str(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

/** The headers of a client's read to send to S3. */
export function readHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of READ_HEADERS) {
    const v = str(req.headers[n]);
    if (v !== undefined) out[n] = v;
  }
  return out;
}

/** The headers of a client's write to send to S3; `aws-chunked` is the client's framing, not the object's encoding. */
export function writeHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [n, raw] of Object.entries(req.headers)) {
    const v = str(raw);
    if (v === undefined) continue;
    if (
      WRITE_HEADERS.includes(n) ||
      n.startsWith('x-amz-meta-') ||
      n.startsWith('x-amz-server-side-encryption') ||
      (n.startsWith('x-amz-checksum-') && n !== 'x-amz-checksum-mode')
    ) {
      out[n] = v;
    }
  }
  const enc = str(req.headers['content-encoding'])
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s && s !== 'aws-chunked')
    .join(',');
  if (enc) out['content-encoding'] = enc;
  return out;
}

/** The headers of S3's answer to pass on to the client. */
export function responseHeaders(up: IncomingMessage): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [n, v] of Object.entries(up.headers)) {
    if (v === undefined) continue;
    if (RESPONSE_HEADERS.includes(n) || n.startsWith('x-amz-meta-') || n.startsWith('x-amz-checksum-')) out[n] = v;
  }
  return out;
}

/** Copy S3's answer headers onto the response. */
export function copyResponseHeaders(up: IncomingMessage, res: ServerResponse): void {
  for (const [n, v] of Object.entries(responseHeaders(up))) if (v !== undefined) res.setHeader(n, v);
}
