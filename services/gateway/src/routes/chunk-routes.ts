import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolveDatastore, type Config } from '@larder/config';
import { isHexDigest } from '@larder/formats';
import type { ChunkStore } from '../chunk-store.js';
import type { ChunkReadahead } from '../chunk-readahead/index.js';
import { StatusError } from '@larder/errors';
import { gatewayRouteSeries, type RequestSeries, type RequestResult } from '@larder/metrics';
import { decodeSegment, type Route } from '../http-kit.js';
import { serveFile } from '../serve-file.js';

/** Validate a store name and digest from a path; throws 404/400 StatusErrors that name the problem. */
export function checkChunkPath(config: Config, storeSeg: string, digestSeg: string) {
  const store = decodeSegment(storeSeg);
  const ds = resolveDatastore(config, store);
  if (!ds) throw new StatusError(404, `unknown datastore: ${store}`);
  const digest = decodeSegment(digestSeg);
  if (!isHexDigest(digest)) throw new StatusError(400, `malformed digest ${JSON.stringify(digest.slice(0, 80))}: expected 64 lowercase hex characters`);
  return { ds, store, digest };
}

function chunkHeaders(digest: string, cache: 'hit' | 'miss'): Record<string, string> {
  return {
    'content-type': 'application/octet-stream',
    etag: `"${digest}"`,
    'cache-control': 'public, max-age=31536000, immutable',
    'x-larder-cache': cache,
  };
}

async function serveChunk(
  chunks: ChunkStore,
  req: IncomingMessage,
  res: ServerResponse,
  store: string,
  digest: string,
  series: Record<RequestResult, RequestSeries>,
  readahead?: ChunkReadahead,
): Promise<void> {
  const t0 = performance.now();
  const low = req.headers['x-larder-priority'] === 'low';
  // Readahead learns of the request once the chunk's own fetch, if any, is on its way (it goes first at the fetchers).
  // A miss: in the next turn of the event loop, so that the chunks after it in the index the client walks start on
  // their way while it waits. A hit: after the answer is handed to the socket, so that readahead's bookkeeping (which
  // may start many fetches at once) never delays it.
  let observed = !readahead || low;
  const observe = () => {
    if (observed) return;
    observed = true;
    readahead?.observe(store, digest, req.socket);
  };
  const early = observed ? undefined : setImmediate(observe);
  try {
    const chunk = await chunks.open(store, digest, low ? 'low' : 'normal');
    if (chunk.hit) clearImmediate(early);
    const bytes = await serveFile(req, res, chunk.fd, chunkHeaders(digest, chunk.hit ? 'hit' : 'miss'), chunk.size);
    (chunk.hit ? series.hit : series.miss).observe((performance.now() - t0) / 1000, bytes);
  } catch (err) {
    series.error.observe((performance.now() - t0) / 1000, 0);
    throw err;
  } finally {
    clearImmediate(early);
    observe();
  }
}

/** `GET|HEAD /v1/stores/{store}/chunks/{digest}` and casync's `GET /casync/{store}/{4 hex}/{digest}.cacnk`. */
export function chunkRoutes(config: () => Config, chunks: ChunkStore, readahead?: ChunkReadahead): Route[] {
  const chunkSeries = gatewayRouteSeries('chunk');
  const casyncSeries = gatewayRouteSeries('casync');
  return [
    {
      methods: ['GET', 'HEAD'],
      pattern: /^\/v1\/stores\/([^/]+)\/chunks\/([^/]+)$/,
      storeParam: 0,
      handler: async (req, res, [s, d]) => {
        const { store, digest } = checkChunkPath(config(), s as string, d as string);
        await serveChunk(chunks, req, res, store, digest, chunkSeries, readahead);
      },
    },
    {
      methods: ['GET', 'HEAD'],
      pattern: /^\/casync\/([^/]+)\/([^/]+)\/([^/]+)\.cacnk$/,
      storeParam: 0,
      handler: async (req, res, [s, shard, d]) => {
        const { ds, store, digest } = checkChunkPath(config(), s as string, d as string);
        if (ds.layout !== 'casync') throw new StatusError(404, `datastore ${store} has the ${ds.layout} layout, not casync`);
        if (shard !== digest.slice(0, 4)) throw new StatusError(404, `chunk ${digest} is not stored under ${shard}/`);
        await serveChunk(chunks, req, res, store, digest, casyncSeries, readahead);
      },
    },
  ];
}
