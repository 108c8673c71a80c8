import type { IncomingMessage, ServerResponse } from 'node:http';
import { gatewayRouteSeries, type RequestResult, type RequestSeries } from '@larder/metrics';
import { decodeSegment, sendJson, type Route } from '../http-kit.js';
import type { ImageCatalog } from '../images/image-catalog.js';
import type { ImageReader } from '../images/image-reader.js';
import { parseRange } from '../images/http-range.js';

/** Decode a multi-segment image path (`vm/100/disk.fidx`), each segment percent-decoded. */
function imageName(raw: string): string {
  return raw.split('/').map(decodeSegment).join('/');
}

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

async function streamRange(res: ServerResponse, reader: ImageReader, start: number, end: number): Promise<void> {
  // A range is read in order: start with readahead already open.
  const cursor = { lastEnd: start, window: 8 };
  const { index } = reader.image;
  let pos = start;
  while (pos < end && !res.destroyed) {
    const i = index.findChunk(pos);
    const stop = Math.min(end, index.chunkEnd(i));
    const piece = await reader.read(pos, stop - pos, cursor);
    pos = stop;
    if (!res.write(piece)) await drainOrClose(res);
  }
  res.end();
}

/** Images: list, read with HTTP Range (206/416, ETag), and the raw index file. */
export function imageRoutes(deps: { catalog: ImageCatalog; reader: (store: string, name: string) => Promise<ImageReader> }): Route[] {
  const series = gatewayRouteSeries('image');
  return [
    {
      methods: ['GET'],
      storeParam: 0,
      pattern: /^\/v1\/stores\/([^/]+)\/images\/?$/,
      handler: async (_req, res, [s]) => {
        const store = decodeSegment(s as string);
        sendJson(res, 200, { store, images: await deps.catalog.list(store) });
      },
    },
    {
      methods: ['GET'],
      storeParam: 0,
      pattern: /^\/v1\/stores\/([^/]+)\/indexes\/(.+)$/,
      handler: async (_req, res, [s, n]) => {
        const image = await deps.catalog.open(decodeSegment(s as string), imageName(n as string));
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': image.indexBytes.byteLength, etag: image.etag });
        res.end(image.indexBytes);
      },
    },
    {
      methods: ['GET', 'HEAD'],
      storeParam: 0,
      pattern: /^\/v1\/stores\/([^/]+)\/images\/(.+)$/,
      handler: (req, res, [s, n]) => timed(series, () => serveImage(deps, req, res, s as string, n as string)),
    },
  ];
}

/** Run a read, counted in `series` as ok (with the bytes it sent) or error, with its latency. */
async function timed(series: Record<RequestResult, RequestSeries>, fn: () => Promise<number>): Promise<void> {
  const t0 = performance.now();
  try {
    const bytes = await fn();
    series.ok.observe((performance.now() - t0) / 1000, bytes);
  } catch (err) {
    series.error.observe((performance.now() - t0) / 1000, 0);
    throw err;
  }
}

/** A GET or HEAD of an image, whole or a Range; resolves to the body bytes it sent. */
async function serveImage(
  deps: { reader: (store: string, name: string) => Promise<ImageReader> },
  req: IncomingMessage,
  res: ServerResponse,
  s: string,
  n: string,
): Promise<number> {
  const reader = await deps.reader(decodeSegment(s), imageName(n));
  const { size, etag } = { size: reader.size, etag: reader.image.etag };
  const ifRange = req.headers['if-range'];
  const range = ifRange && ifRange !== etag ? ({ kind: 'full' } as const) : parseRange(req.headers.range, size);
  const common = { 'accept-ranges': 'bytes', etag, 'content-type': 'application/octet-stream', 'cache-control': 'no-cache' };
  if (range.kind === 'unsatisfiable') {
    res.writeHead(416, { ...common, 'content-range': `bytes */${size}`, 'content-type': 'application/json' });
    res.end(`${JSON.stringify({ error: 'range_not_satisfiable', message: `range ${req.headers.range} is past the end of the image (${size} bytes)` })}\n`);
    return 0;
  }
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, common);
    res.end();
    return 0;
  }
  const [start, end] = range.kind === 'range' ? [range.start, range.end] : [0, size];
  // Read the first piece before the headers so that a fetch failure is still a proper error answer.
  const firstEnd = Math.min(end, start === end ? end : reader.image.index.chunkEnd(reader.image.index.findChunk(start)));
  const first = req.method === 'HEAD' || start === end ? Buffer.alloc(0) : await reader.read(start, firstEnd - start);
  res.writeHead(range.kind === 'range' ? 206 : 200, {
    ...common,
    'content-length': end - start,
    ...(range.kind === 'range' ? { 'content-range': `bytes ${start}-${end - 1}/${size}` } : {}),
  });
  if (req.method === 'HEAD') {
    res.end();
    return 0;
  }
  res.write(first);
  await streamRange(res, reader, firstEnd, end).catch((err: Error) => {
    // Headers are out: the only honest signal left is to cut the connection.
    res.destroy(err);
  });
  return end - start;
}
