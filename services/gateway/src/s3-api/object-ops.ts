import type { IncomingMessage } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { datastoreForClientBucket } from '@larder/config';
import { encodeKey } from '@larder/s3';
import { authorize } from './s3-auth.js';
import { header, type ObjectContext } from './s3-context.js';
import { S3ApiError } from './s3-errors.js';
import { checkKey } from './s3-request.js';
import { sendXmlText } from './s3-response.js';
import { readHeaders, responseHeaders, writeHeaders } from './forward-headers.js';
import { BUFFERED_PUT_BYTES, MAX_PUT_BYTES, bodyLength, readBody, verifiedStream } from './request-body.js';
import { readResponse, upstreamError } from './upstream.js';
import { parseXml, XmlSyntaxError } from './xml.js';

const GET_PARAMS = new Set(['partNumber', 'versionId']);

/** The query parameters of a GET/HEAD that S3 should see: part number, version, `response-*` header overrides. */
export function readQuery(query: URLSearchParams): [string, string][] {
  return [...query].filter(([k]) => GET_PARAMS.has(k) || k.startsWith('response-'));
}

function isOk(res: IncomingMessage): boolean {
  const s = res.statusCode ?? 0;
  return s >= 200 && s < 300;
}

/** GetObject and HeadObject, passed through: S3's status, headers and body, streamed. */
export async function getObject(ctx: ObjectContext): Promise<void> {
  const { req, res } = ctx;
  const up = await ctx.upstream.request(ctx.ds, {
    method: req.method === 'HEAD' ? 'HEAD' : 'GET',
    key: ctx.key,
    query: readQuery(ctx.addr.query),
    headers: readHeaders(req),
  });
  if (up.statusCode === 304) {
    up.resume();
    res.writeHead(304, responseHeaders(up));
    return void res.end();
  }
  if (!isOk(up)) throw await upstreamError(up);
  res.writeHead(up.statusCode ?? 200, responseHeaders(up));
  if (req.method === 'HEAD') {
    up.resume();
    return void res.end();
  }
  const count = new Transform({
    transform: (chunk: Buffer, _enc, cb) => {
      ctx.stats.bytesOut += chunk.length;
      cb(null, chunk);
    },
  });
  // A client that goes away ends the upstream GET too; an upstream that fails mid-body cuts the client's connection.
  await pipeline(up, count, res).catch(() => undefined);
}

/** The body of a write, read whole when small, and sent to S3: resolves with S3's (2xx) answer. */
export async function sendBodyUpstream(ctx: ObjectContext, query: [string, string][], headers: Record<string, string>): Promise<IncomingMessage> {
  const { req, verified } = ctx;
  const length = bodyLength(req, verified);
  if (length === undefined) throw new S3ApiError('MissingContentLength', 'a PUT needs a Content-Length (or x-amz-decoded-content-length)');
  if (length > MAX_PUT_BYTES) throw new S3ApiError('EntityTooLarge', `a single PUT is at most ${MAX_PUT_BYTES} bytes; use a multipart upload`);
  const onBytes = (n: number) => (ctx.stats.bytesIn += n);
  const key = ctx.key;
  if (length <= BUFFERED_PUT_BYTES) {
    const body = await readBody(req, verified, BUFFERED_PUT_BYTES, onBytes);
    const up = await ctx.upstream.request(ctx.ds, { method: 'PUT', key, query, headers, body });
    if (!isOk(up)) throw await upstreamError(up);
    return up;
  }
  // Streamed: S3 gets the body as it arrives; its last byte only once verification passed (see request-body.ts).
  const { body, failed } = verifiedStream(req, verified, onBytes);
  let up: IncomingMessage;
  try {
    up = await ctx.upstream.request(ctx.ds, { method: 'PUT', key, query, headers: { ...headers, 'content-length': String(length) }, body });
  } catch (err) {
    throw (await failed) ?? err;
  }
  if (!isOk(up)) {
    body.destroy();
    req.destroy();
    throw await upstreamError(up);
  }
  const bad = await failed;
  if (bad) throw bad;
  return up;
}

/** PutObject (and UploadPart with its query): metadata headers and `If-None-Match: *` passed on; ETag from S3. */
export async function putObject(ctx: ObjectContext, query: [string, string][] = []): Promise<void> {
  const up = await sendBodyUpstream(ctx, query, writeHeaders(ctx.req));
  up.resume();
  const headers = responseHeaders(up);
  delete headers['content-length'];
  delete headers['content-type'];
  ctx.res.writeHead(200, { ...headers, 'content-length': 0 });
  ctx.res.end();
}

/** DeleteObject: S3's answer (204, also for a key that is not there). */
export async function deleteObject(ctx: ObjectContext): Promise<void> {
  const up = await ctx.upstream.request(ctx.ds, { method: 'DELETE', key: ctx.key });
  if (!isOk(up)) throw await upstreamError(up);
  up.resume();
  ctx.res.writeHead(204);
  ctx.res.end();
}

/** The upstream `x-amz-copy-source` of a client's: a key in a client bucket the key may read, on the same S3 connection. */
export function copySource(ctx: ObjectContext): string {
  const raw = header(ctx.req, 'x-amz-copy-source') ?? '';
  const q = raw.indexOf('?');
  const version = q < 0 ? '' : raw.slice(q);
  let path: string;
  try {
    path = decodeURIComponent(q < 0 ? raw : raw.slice(0, q)).replace(/^\//, '');
  } catch (err) {
    throw new S3ApiError('InvalidArgument', 'malformed x-amz-copy-source', 400, { cause: err });
  }
  const slash = path.indexOf('/');
  if (slash <= 0) throw new S3ApiError('InvalidArgument', 'x-amz-copy-source must be bucket/key');
  const bucket = path.slice(0, slash);
  const key = checkKey(path.slice(slash + 1));
  const src = datastoreForClientBucket(ctx.config, bucket);
  if (!src) throw new S3ApiError('NoSuchBucket', `no such bucket: ${bucket}`);
  authorize(ctx.accessKey, bucket, false);
  if (src.endpoint !== ctx.ds.endpoint || src.accessKeyId !== ctx.ds.accessKeyId) {
    throw new S3ApiError('NotImplemented', `copying from bucket ${bucket} to ${ctx.bucket} needs a copy through the client (different S3 connections)`);
  }
  if (version && !/^\?versionId=[^&]*$/.test(version)) throw new S3ApiError('InvalidArgument', 'malformed x-amz-copy-source');
  return `/${src.bucket}/${encodeKey(key)}${version}`;
}

/** An XML answer of S3 passed on, unless it is an error document sent with 200 (as S3 does for a failed copy or completion). */
export async function passXml(ctx: ObjectContext | { res: ObjectContext['res']; stats: ObjectContext['stats'] }, up: IncomingMessage): Promise<void> {
  const text = (await readResponse(up, 16 * 1024 * 1024)).toString('utf8');
  try {
    const doc = parseXml(text);
    if (doc.name === 'Error')
      throw new S3ApiError(doc.children.find((c) => c.name === 'Code')?.text ?? 'InternalError', doc.children.find((c) => c.name === 'Message')?.text ?? 'S3 failed', 500);
  } catch (err) {
    if (!(err instanceof XmlSyntaxError)) throw err;
    throw new S3ApiError('InternalError', 'S3 answered with malformed XML', 502, { cause: err });
  }
  sendXmlText(ctx.res, 200, text, (n) => (ctx.stats.bytesOut += n));
}

/** CopyObject (and UploadPartCopy with its query) within or across client buckets, done by S3. */
export async function copyObject(ctx: ObjectContext, query: [string, string][] = []): Promise<void> {
  const headers = { ...writeHeaders(ctx.req), 'x-amz-copy-source': copySource(ctx) };
  const up = await ctx.upstream.request(ctx.ds, { method: 'PUT', key: ctx.key, query, headers });
  if (!isOk(up)) throw await upstreamError(up);
  await passXml(ctx, up);
}
