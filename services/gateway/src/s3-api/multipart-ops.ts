import type { IncomingMessage } from 'node:http';
import { chunkRef, header, type BucketContext, type ObjectContext } from './s3-context.js';
import { S3ApiError } from './s3-errors.js';
import { sendXmlText } from './s3-response.js';
import { writeHeaders } from './forward-headers.js';
import { copyObject, putObject } from './object-ops.js';
import { readXmlBody } from './delete-objects.js';
import { upstreamError, upstreamXml } from './upstream.js';
import { childText, serializeXml, xmlDocument, type XmlElement } from './xml.js';

/** S3's part numbers. */
const MAX_PART = 10_000;

function uploadId(ctx: BucketContext): string {
  const id = ctx.addr.query.get('uploadId');
  if (!id) throw new S3ApiError('InvalidArgument', 'uploadId is empty');
  return id;
}

/** S3's XML answer, parsed, with its Bucket and Key (anywhere in it) rewritten to the client's; an `<Error>` sent with 200 is thrown. */
async function clientView(ctx: BucketContext, up: IncomingMessage, notFound: 'NoSuchUpload' | 'NoSuchBucket' | 'NoSuchKey' = 'NoSuchUpload'): Promise<XmlElement> {
  const doc = await upstreamXml(up, notFound, 'a multipart request');
  const walk = (el: XmlElement) => {
    if (el.name === 'Bucket') el.text = ctx.bucket;
    else if (el.name === 'Location') el.text = '';
    el.children.forEach((c) => walk(c));
    el.children = el.children.filter((c) => c.name !== '-' && !(c.name === 'Location' && c.text === ''));
  };
  walk(doc);
  return doc;
}

function send(ctx: BucketContext, doc: XmlElement): void {
  sendXmlText(ctx.res, 200, serializeXml(doc), (n) => (ctx.stats.bytesOut += n));
}

/** CreateMultipartUpload; refused for chunk keys (a chunk is verified and written whole). */
export async function createMultipartUpload(ctx: ObjectContext): Promise<void> {
  if (chunkRef(ctx, ctx.key)) throw new S3ApiError('InvalidRequest', 'chunk objects are written with a single PUT, not a multipart upload');
  const up = await ctx.upstream.request(ctx.ds, { method: 'POST', key: ctx.key, query: [['uploads', '']], headers: writeHeaders(ctx.req) });
  send(ctx, await clientView(ctx, up, 'NoSuchBucket'));
}

/** UploadPart (a body) or UploadPartCopy (`x-amz-copy-source`). */
export async function uploadPart(ctx: ObjectContext): Promise<void> {
  const part = ctx.addr.query.get('partNumber') ?? '';
  if (!/^\d{1,5}$/.test(part) || Number(part) < 1 || Number(part) > MAX_PART) throw new S3ApiError('InvalidArgument', `partNumber must be 1 to ${MAX_PART}`);
  const query: [string, string][] = [
    ['partNumber', part],
    ['uploadId', uploadId(ctx)],
  ];
  if (header(ctx.req, 'x-amz-copy-source') !== undefined) return copyObject(ctx, query);
  return putObject(ctx, query);
}

/** CompleteMultipartUpload: the client's part list, checked and written anew, to S3. */
export async function completeMultipartUpload(ctx: ObjectContext): Promise<void> {
  const id = uploadId(ctx);
  const doc = await readXmlBody(ctx, 'CompleteMultipartUpload');
  const parts = doc.children.filter((c) => c.name === 'Part');
  if (parts.length === 0 || parts.length > MAX_PART) throw new S3ApiError('MalformedXML', 'a CompleteMultipartUpload lists 1 to 10000 parts');
  const list = parts.map((p) => {
    const n = childText(p, 'PartNumber')?.trim() ?? '';
    const etag = childText(p, 'ETag');
    if (!/^\d{1,5}$/.test(n) || etag === undefined) throw new S3ApiError('MalformedXML', 'a Part needs a PartNumber and an ETag');
    const entry: Record<string, string> = { PartNumber: n, ETag: etag };
    for (const c of p.children) if (c.name.startsWith('Checksum')) entry[c.name] = c.text;
    return entry;
  });
  const body = Buffer.from(xmlDocument('CompleteMultipartUpload', { Part: list }));
  const up = await ctx.upstream.request(ctx.ds, {
    method: 'POST',
    key: ctx.key,
    query: [['uploadId', id]],
    headers: { 'content-type': 'application/xml' },
    body,
  });
  send(ctx, await clientView(ctx, up));
}

/** AbortMultipartUpload. */
export async function abortMultipartUpload(ctx: ObjectContext): Promise<void> {
  const up = await ctx.upstream.request(ctx.ds, { method: 'DELETE', key: ctx.key, query: [['uploadId', uploadId(ctx)]] });
  if ((up.statusCode ?? 0) >= 300) throw await upstreamError(up, 'NoSuchUpload');
  up.resume();
  ctx.res.writeHead(204);
  ctx.res.end();
}

/** ListParts. */
export async function listParts(ctx: ObjectContext): Promise<void> {
  const query: [string, string][] = [['uploadId', uploadId(ctx)]];
  for (const n of ['max-parts', 'part-number-marker']) {
    const v = ctx.addr.query.get(n);
    if (v !== null) query.push([n, v]);
  }
  const up = await ctx.upstream.request(ctx.ds, { method: 'GET', key: ctx.key, query });
  send(ctx, await clientView(ctx, up));
}

/** ListMultipartUploads of the bucket. */
export async function listMultipartUploads(ctx: BucketContext): Promise<void> {
  const q = ctx.addr.query;
  const query: [string, string][] = [
    ['uploads', ''],
    ['prefix', q.get('prefix') ?? ''],
  ];
  for (const n of ['delimiter', 'max-uploads', 'upload-id-marker']) {
    const v = q.get(n);
    if (v !== null) query.push([n, v]);
  }
  const marker = q.get('key-marker');
  if (marker) query.push(['key-marker', marker]);
  const up = await ctx.upstream.request(ctx.ds, { method: 'GET', query });
  send(ctx, await clientView(ctx, up, 'NoSuchBucket'));
}
