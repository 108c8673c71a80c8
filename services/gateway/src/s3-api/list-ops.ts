import { S3ApiError } from './s3-errors.js';
import type { BucketContext } from './s3-context.js';
import { sendXmlText } from './s3-response.js';
import { upstreamXml } from './upstream.js';
import { childText, serializeXml, type XmlElement } from './xml.js';

/** S3's `encoding-type=url` form: percent-encoded, `/` kept, space as `+` (as S3 writes it; clients decode with unquote_plus). */
export function urlEncodeKey(s: string): string {
  return encodeURIComponent(s).replace(/%2F/g, '/').replace(/%20/g, '+');
}

function urlDecodeKey(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch (err) {
    throw new S3ApiError('InternalError', 'S3 listed a malformed url-encoded key', 502, { cause: err });
  }
}

const TOKEN_TAG = 'lk1.';

/** A V2 continuation token: the client key (or common prefix) the next page starts after. */
export function continuationToken(afterKey: string): string {
  return TOKEN_TAG + Buffer.from(afterKey, 'utf8').toString('base64url');
}

function tokenKey(token: string): string {
  if (!token.startsWith(TOKEN_TAG)) throw new S3ApiError('InvalidArgument', 'The continuation token provided is incorrect');
  return Buffer.from(token.slice(TOKEN_TAG.length), 'base64url').toString('utf8');
}

const el = (name: string, text: string): XmlElement => ({ name, children: [], text });

/**
 * ListObjectsV2 (`list-type=2`) and V1, passed through to S3 under the datastore's prefix. Both are asked of S3 as V1
 * (marker-based, which every S3 implementation pages the same way): V2's start-after and continuation token become the
 * marker, and the continuation tokens handed out are Larder's own (the client key the next page starts after), so that
 * they round-trip whatever S3 is behind. Keys, common prefixes and markers in the answer lose the datastore's prefix.
 */
export async function listObjects(ctx: BucketContext): Promise<void> {
  const q = ctx.addr.query;
  const v2 = q.get('list-type') === '2';
  if (q.has('list-type') && !v2) throw new S3ApiError('InvalidArgument', `unknown list-type ${q.get('list-type')}`);
  const encodingType = q.get('encoding-type');
  if (encodingType !== null && encodingType !== 'url') throw new S3ApiError('InvalidArgument', `unknown encoding-type ${encodingType}`);
  const maxKeys = q.get('max-keys');
  if (maxKeys !== null && !/^\d{1,9}$/.test(maxKeys)) throw new S3ApiError('InvalidArgument', 'max-keys must be a non-negative integer');
  const prefix = q.get('prefix') ?? '';
  const token = v2 ? q.get('continuation-token') : null;
  const after = token !== null ? tokenKey(token) : q.get(v2 ? 'start-after' : 'marker');
  const query: [string, string][] = [['prefix', prefix]];
  for (const name of ['delimiter', 'max-keys', 'encoding-type']) {
    const v = q.get(name);
    if (v !== null) query.push([name, v]);
  }
  if (after) query.push(['marker', after]);
  const up = await ctx.upstream.request(ctx.ds, { method: 'GET', query });
  const doc = await upstreamXml(up, 'NoSuchBucket', 'the listing');
  if (doc.name !== 'ListBucketResult') throw new S3ApiError('InternalError', `S3 answered the listing with <${doc.name}>`, 502);
  const upEncoded = childText(doc, 'EncodingType') === 'url';
  const out = (k: string) => (encodingType === 'url' ? urlEncodeKey(k) : k);
  /** The client key of a listed key (client keys are upstream keys). */
  const strip = (text: string): string => (upEncoded ? urlDecodeKey(text) : text);

  const contents: XmlElement[] = [];
  const prefixes: XmlElement[] = [];
  let last: string | undefined;
  for (const c of doc.children) {
    if (c.name === 'Contents') {
      const keyEl = c.children.find((k) => k.name === 'Key');
      const k = keyEl && strip(keyEl.text);
      if (!keyEl || k === undefined) continue; // no <Key>
      keyEl.text = out(k);
      if (v2 && q.get('fetch-owner') !== 'true') c.children = c.children.filter((x) => x.name !== 'Owner');
      contents.push(c);
      if (last === undefined || k > last) last = k;
    } else if (c.name === 'CommonPrefixes') {
      const p = c.children.find((k) => k.name === 'Prefix');
      const k = p && strip(p.text);
      if (!p || k === undefined) continue; // no <Prefix>
      p.text = out(k);
      prefixes.push(c);
      if (last === undefined || k > last) last = k;
    }
  }
  const truncated = childText(doc, 'IsTruncated') === 'true';
  const head: XmlElement[] = [el('Name', ctx.bucket), el('Prefix', out(prefix))];
  if (v2) {
    if (q.has('start-after')) head.push(el('StartAfter', out(q.get('start-after') ?? '')));
    if (token !== null) head.push(el('ContinuationToken', token));
    head.push(el('KeyCount', String(contents.length + prefixes.length)));
  } else {
    head.push(el('Marker', out(q.get('marker') ?? '')));
  }
  head.push(el('MaxKeys', childText(doc, 'MaxKeys') ?? maxKeys ?? '1000'));
  const delimiter = q.get('delimiter');
  if (delimiter !== null) head.push(el('Delimiter', out(delimiter)));
  head.push(el('IsTruncated', String(truncated)));
  if (truncated && last !== undefined) head.push(v2 ? el('NextContinuationToken', continuationToken(last)) : el('NextMarker', out(last)));
  if (encodingType === 'url') head.push(el('EncodingType', 'url'));
  const result: XmlElement = { name: 'ListBucketResult', children: [...head, ...contents, ...prefixes], text: '' };
  sendXmlText(ctx.res, 200, serializeXml(result), (n) => (ctx.stats.bytesOut += n));
}
