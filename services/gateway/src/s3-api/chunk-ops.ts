import { createReadStream, closeSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseRange } from '../images/http-range.js';
import type { ChunkObjects } from './chunk-objects.js';
import { header, type ChunkRef, type ObjectContext } from './s3-context.js';
import { S3ApiError } from './s3-errors.js';
import { writeHeaders, responseHeaders } from './forward-headers.js';
import { deleteObject, getObject } from './object-ops.js';
import { readBody } from './request-body.js';
import { upstreamError } from './upstream.js';

/** A chunk PUT's body is read whole (ChunkObjects verifies it before anything is written); PBS chunks are at most 16 MiB plus a header. */
const MAX_CHUNK_BODY = 32 * 1024 * 1024;

/** GET of a chunk object: from the cache (one S3 GET per chunk however many ask), whole or one range. */
export async function getChunk(ctx: ObjectContext, chunks: ChunkObjects, ref: ChunkRef): Promise<void> {
  const { req, res } = ctx;
  if (req.method === 'HEAD') return headChunk(ctx, chunks, ref);
  const obj = await chunks.open(ref.ds, ref.digest, req.socket);
  let owned = false;
  try {
    const range = parseRange(header(req, 'range'), obj.size);
    const base = { etag: obj.etag, 'last-modified': obj.lastModified.toUTCString(), 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes' };
    if (range.kind === 'unsatisfiable') {
      res.setHeader('content-range', `bytes */${obj.size}`);
      throw new S3ApiError('InvalidRange', 'The requested range is not satisfiable');
    }
    const [start, end] = range.kind === 'range' ? [range.start, range.end] : [0, obj.size];
    res.writeHead(range.kind === 'range' ? 206 : 200, {
      ...base,
      'content-length': end - start,
      ...(range.kind === 'range' ? { 'content-range': `bytes ${start}-${end - 1}/${obj.size}` } : {}),
    });
    if (end === start) return void res.end();
    owned = true; // the stream closes the descriptor
    const count = new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        ctx.stats.bytesOut += chunk.length;
        cb(null, chunk);
      },
    });
    await pipeline(createReadStream('', { fd: obj.fd, start, end: end - 1, highWaterMark: 1024 * 1024 }), count, res).catch(() => undefined);
  } finally {
    if (!owned) closeSync(obj.fd);
  }
}

/** HEAD of a chunk object: answered here when this node holds it, else by S3 (a 200 is recorded). */
async function headChunk(ctx: ObjectContext, chunks: ChunkObjects, ref: ChunkRef): Promise<void> {
  const info = await chunks.head(ref.ds, ref.digest);
  if (info) {
    ctx.res.writeHead(200, {
      etag: info.etag,
      'last-modified': info.lastModified.toUTCString(),
      'content-length': info.size,
      'content-type': 'application/octet-stream',
      'accept-ranges': 'bytes',
    });
    return void ctx.res.end();
  }
  await getObject(ctx);
  if (ctx.res.statusCode === 200) chunks.seen(ref.ds, ref.digest);
}

/** PUT of a chunk object: the verified body to ChunkObjects, which uploads it (unless S3 is known to have it) and admits it. */
export async function putChunk(ctx: ObjectContext, chunks: ChunkObjects, ref: ChunkRef): Promise<void> {
  const ifNoneMatch = header(ctx.req, 'if-none-match')?.trim() === '*';
  const length = Number(header(ctx.req, 'content-length') ?? NaN);
  const asked = ifNoneMatch && Number.isSafeInteger(length) && length <= MAX_CHUNK_BODY;
  if (asked && (await chunks.knownPut(ref.ds, ref.digest, length))) {
    // A backup of data S3 already holds (PBS sends every chunk this way): the precondition fails whatever the body, so
    // its bytes are read off the connection and dropped — not hashed, decoded or kept.
    await drain(ctx.req, (n) => (ctx.stats.bytesIn += n));
    throw new S3ApiError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
  }
  const body = await readBody(ctx.req, ctx.verified, MAX_CHUNK_BODY, (n) => (ctx.stats.bytesIn += n));
  const headers = writeHeaders(ctx.req);
  delete headers['if-none-match'];
  const result = await chunks.put(
    ref.ds,
    ref.digest,
    body,
    async (b, opts) => {
      const up = await ctx.upstream.request(ctx.ds, {
        method: 'PUT',
        key: ctx.key,
        headers: { ...headers, ...(opts.ifNoneMatch ? { 'if-none-match': '*' } : {}) },
        body: b,
        // readBody checked the body against the hash the client signed: the upstream signature reuses it.
        bodySha256: ctx.verified.payload === 'sha256' ? ctx.verified.payloadSha256 : undefined,
      });
      if (up.statusCode === 412) {
        up.resume();
        return { preconditionFailed: true };
      }
      if ((up.statusCode ?? 0) >= 300) throw await upstreamError(up);
      up.resume();
      const etag = responseHeaders(up).etag;
      return { etag: typeof etag === 'string' ? etag : undefined };
    },
    { ifNoneMatch, unknown: asked },
  );
  if (result.preconditionFailed) throw new S3ApiError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
  ctx.res.writeHead(200, { etag: result.etag, 'content-length': 0 });
  ctx.res.end();
}

/** DELETE of a chunk object: deleted in S3, then forgotten by the cache. */
export async function deleteChunk(ctx: ObjectContext, chunks: ChunkObjects, ref: ChunkRef): Promise<void> {
  await deleteObject(ctx);
  await chunks.deleted(ref.ds, [ref.digest]);
}

/** Read a request body to its end and drop it (the connection stays usable for the next request). */
function drain(req: IncomingMessage, count: (n: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    req.on('data', (b: Buffer) => count(b.length));
    req.once('end', () => resolve());
    req.once('error', reject);
    req.once('aborted', () => reject(new S3ApiError('IncompleteBody', 'the client closed the connection before the end of the body')));
  });
}
