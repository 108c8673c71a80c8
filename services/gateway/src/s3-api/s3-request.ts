import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { isBucketName } from '@larder/config';
import { S3ApiError } from './s3-errors.js';

/** An S3 request as addressed: which bucket and key (undefined for service and bucket requests) and its query. */
export interface S3Address {
  bucket: string | undefined;
  key: string | undefined;
  query: URLSearchParams;
  style: 'path' | 'virtual';
}

/** S3's limit on a key's length, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

function decode(s: string, what: string): string {
  try {
    return decodeURIComponent(s);
  } catch (err) {
    throw new S3ApiError('InvalidURI', `malformed percent-encoding in the ${what}`, 400, { cause: err });
  }
}

/**
 * Check a client's object key. S3 allows nearly anything; refused here is what could reach outside the datastore's
 * prefix upstream or confuse a file system path (`.`/`..` segments, NUL and other control characters), and keys longer than S3's limit.
 */
export function checkKey(key: string): string {
  if (key === '') throw new S3ApiError('InvalidObjectName', 'empty object key');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new S3ApiError('KeyTooLongError', `object key longer than ${MAX_KEY_BYTES} bytes`);
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (/[\u0000-\u001f\u007f]/.test(key)) throw new S3ApiError('InvalidObjectName', 'object key contains control characters');
  if (key.split('/').some((s) => s === '.' || s === '..')) throw new S3ApiError('InvalidObjectName', 'object key contains a . or .. segment');
  return key;
}

/** The host name of a Host header, without the port (IPv6 without brackets). */
function hostName(host: string | undefined): string {
  if (!host) return '';
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  return h.replace(/:\d*$/, '');
}

/**
 * Where a request is addressed. Virtual-hosted style when the Host's first label is a known client bucket and the
 * rest is a name (not an IP address): `demo.s3.example:8781/key`; else path style: `/bucket/key`.
 */
export function parseS3Address(req: Pick<IncomingMessage, 'url' | 'headers'>, isBucket: (name: string) => boolean): S3Address {
  let target = req.url ?? '/';
  // An absolute-form target (a proxy-style request line): keep path and query.
  const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(target);
  if (abs) target = target.slice(abs[0].length) || '/';
  if (!target.startsWith('/')) throw new S3ApiError('InvalidRequest', 'request target must start with /');
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : target.slice(q + 1));

  const host = hostName(req.headers.host);
  const dot = host.indexOf('.');
  if (dot > 0 && isIP(host) === 0) {
    const label = host.slice(0, dot);
    const rest = host.slice(dot + 1);
    if (isBucket(label) && isIP(rest) === 0 && rest !== '') {
      const rawKey = rawPath.slice(1);
      return { bucket: label, key: rawKey === '' ? undefined : checkKey(decode(rawKey, 'object key')), query, style: 'virtual' };
    }
  }
  const path = rawPath.slice(1);
  if (path === '') return { bucket: undefined, key: undefined, query, style: 'path' };
  const slash = path.indexOf('/');
  const rawBucket = slash < 0 ? path : path.slice(0, slash);
  // Bucket names are plain: an encoded character (a slash above all) is refused, never decoded.
  if (!isBucketName(rawBucket)) {
    throw new S3ApiError('InvalidBucketName', `not a valid bucket name: ${rawBucket.slice(0, 80)}`);
  }
  const rawKey = slash < 0 ? '' : path.slice(slash + 1);
  return { bucket: rawBucket, key: rawKey === '' ? undefined : checkKey(decode(rawKey, 'object key')), query, style: 'path' };
}
